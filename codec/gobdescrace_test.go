package codec_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/codec"
)

type descRaceTop struct{ M map[int]int }

// TestGobDescriptionChangedBeforeCopy: Decode picks the warm decoders of
// a message by its type description, read in place in shared memory, and
// only then copies the message to walk it. A peer that rewrites the
// description in between (the hook stands for its store) has the walk
// check the message against its new description, while the warm decoder
// reads it with the one it was fed: a map count the walk took for an int
// reaches gob unchecked, and gob allocates the map it asks for.
func TestGobDescriptionChangedBeforeCopy(t *testing.T) {
	const limit = 16 << 20
	var c codec.Gob[descRaceTop]
	legit, err := c.Append(nil, &descRaceTop{M: map[int]int{7: 9}})
	if err != nil {
		t.Fatal(err)
	}
	var v descRaceTop
	if err := c.Decode(legit, &v); err != nil || v.M[7] != 9 { // warms a decoder for the description
		t.Fatalf("decode of a sound message: %v, %v", v, err)
	}
	msgs := gobMessages(t, legit)
	last := msgs[len(msgs)-1]
	// The value: its type id, field M (delta 1), the map's count 1, key
	// 7, value 9, the struct's end. Sent: the count 2^21, no entry.
	if !bytes.HasSuffix(last, []byte{0x01, 0x01, 0x0e, 0x12, 0x00}) {
		t.Fatalf("unexpected encoding %x", last)
	}
	body := append(append([]byte(nil), last[:len(last)-4]...), 0xfd, 0x20, 0x00, 0x00, 0x00)
	var src []byte
	for _, m := range msgs[:len(msgs)-1] {
		src = append(appendGobUint(src, uint64(len(m))), m...)
	}
	desc := len(src)
	src = append(appendGobUint(src, uint64(len(body))), body...)
	// The description's field M of the map type (id over 63: two bytes)
	// becomes field MM of type int (id 2), of the same length.
	at := bytes.Index(src[:desc], []byte{0x01, 0x01, 'M', 0x01, 0xff})
	if at < 0 {
		t.Fatalf("no field M in the description %x", src[:desc])
	}
	was := append([]byte(nil), src[at:at+6]...)
	forged := []byte{0x01, 0x02, 'M', 'M', 0x01, 0x04}

	// As sent, the walk sees the map count: ErrDecode, nothing allocated.
	if n, err := decodeAllocs[descRaceTop](src); !errors.Is(err, codec.ErrDecode) || n > limit {
		t.Fatalf("the message as sent: %v after %d MiB, want ErrDecode under %d MiB", err, n>>20, limit>>20)
	}
	codec.SetDescFoundHook(func() { copy(src[at:], forged) })
	defer codec.SetDescFoundHook(nil)
	n, err := decodeAllocs[descRaceTop](src)
	copy(src[at:], was)
	if err != nil && !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("decode: %v, want nil or ErrDecode", err)
	}
	if n > limit {
		t.Fatalf("a %d-byte message whose description changed before its copy allocated %d MiB (%v), want under %d MiB", len(src), n>>20, err, limit>>20)
	}
}
