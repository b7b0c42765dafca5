package codec_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/codec"
)

// TestGobMessageChangedAfterWalk: Decode reads src in place, in shared
// memory that a hostile or buggy peer may still write. A message whose
// map count changes after the walk that checked it (the hook stands for
// the peer's store) must not make gob allocate the map the new count
// asks for: the walk and the decode must read the same bytes. Before,
// gob read src again and made a map of 2^21 entries, tens of MiB, from
// a message of a few dozen bytes.
func TestGobMessageChangedAfterWalk(t *testing.T) {
	const limit = 16 << 20
	// A map[int]int of one entry, its count written in four bytes (gob
	// reads any width) so that a store of four bytes can make it large.
	b := gobBomb(t, map[int]int{7: 9}, []byte{0x0e, 0x12}, 1)
	msgs := gobMessages(t, b)
	last := msgs[len(msgs)-1]
	at := len(last) - 3 // count, key 7, value 9, at the end of the value message
	if last[at] != 1 || last[at+1] != 0x0e || last[at+2] != 0x12 {
		t.Fatalf("unexpected encoding %x", last)
	}
	patched := append(append(append([]byte(nil), last[:at]...), 0xfc, 0, 0, 0, 1), last[at+1:]...)
	var src []byte
	for _, m := range msgs[:len(msgs)-1] {
		src = append(appendGobUint(src, uint64(len(m))), m...)
	}
	src = appendGobUint(src, uint64(len(patched)))
	count := len(src) + at + 1 // the count's four bytes
	src = append(src, patched...)

	codec.SetWalkedHook(func() { copy(src[count:], []byte{0, 0x20, 0, 0}) }) // 2^21 entries
	defer codec.SetWalkedHook(nil)
	for i := range 2 { // a cold decoder, and after it failed, again
		n, err := decodeAllocs[map[int]int](src)
		if err != nil && !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("decode %d: %v, want nil or ErrDecode", i, err)
		}
		if n > limit {
			t.Fatalf("decode %d: a %d-byte message whose map count changed after its walk allocated %d MiB (%v), want under %d MiB", i, len(src), n>>20, err, limit>>20)
		}
		copy(src[count:], []byte{0, 0, 0, 1}) // the message as sent
	}
}
