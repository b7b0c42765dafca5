package pool

import (
	"encoding/binary"
	"testing"
)

// TestHeaderLayout checks the record header against the diagram in
// layout.go, word by word, and that a payload after it stays 8-byte aligned.
func TestHeaderLayout(t *testing.T) {
	b := make([]byte, hdrSize)
	putHeader(b, header{kind: 0x11223344, count: 0x55667788, seq: 0x0102030405060708, word: 0x1112131415161718})
	if got := binary.LittleEndian.Uint32(b[0:]); got != 0x11223344 {
		t.Errorf("kind at 0: %#x", got)
	}
	if got := binary.LittleEndian.Uint32(b[4:]); got != 0x55667788 {
		t.Errorf("count at 4: %#x", got)
	}
	if got := binary.LittleEndian.Uint64(b[8:]); got != 0x0102030405060708 {
		t.Errorf("seq at 8: %#x", got)
	}
	if got := binary.LittleEndian.Uint64(b[16:]); got != 0x1112131415161718 {
		t.Errorf("function id / first at 16: %#x", got)
	}
	if offKind != 0 || offCount != 4 || offSeq != 8 || offFunc != 16 || offFirst != 16 || hdrSize != 24 || hdrSize%8 != 0 {
		t.Fatal("offsets differ from the diagram")
	}
	h, err := readHeader(b)
	if err != nil || h != (header{kind: 0x11223344, count: 0x55667788, seq: 0x0102030405060708, word: 0x1112131415161718}) {
		t.Fatalf("readHeader = %+v, %v", h, err)
	}
	if _, err := readHeader(b[:hdrSize-1]); err == nil {
		t.Fatal("a short header was accepted")
	}
	item := appendItem(nil, itemErr, []byte("abc"))
	st, p, rest, err := nextItem(item)
	if err != nil || st != itemErr || string(p) != "abc" || len(rest) != 0 {
		t.Fatalf("item round trip: %d %q %q %v", st, p, rest, err)
	}
	if _, _, _, err := nextItem(item[:len(item)-1]); err == nil {
		t.Fatal("a truncated item was accepted")
	}
}
