package codec_test

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/codec"
)

type flagged struct {
	N  int64
	OK bool
}

// TestBinaryBoolChangedAfterCheck: Binary's Decode refuses a bool byte
// other than 0 or 1, which Go's compiler assumes a bool never holds. src
// may be shared memory that a peer still writes: a byte changed after
// the check (the hook stands for the peer's store) must not reach the
// value. Before, Decode checked src and then copied src again, and the
// decoded bool held 2.
func TestBinaryBoolChangedAfterCheck(t *testing.T) {
	c := codec.MustBinary[flagged]()
	in := flagged{N: 5, OK: true}
	src, err := c.Append(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	off := int(unsafe.Offsetof(in.OK))
	codec.SetBoolsCheckedHook(func() { src[off] = 2 })
	defer codec.SetBoolsCheckedHook(nil)
	var out flagged
	err = c.Decode(src, &out)
	if err != nil && !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("Decode: %v, want nil or ErrDecode", err)
	}
	if b := *(*byte)(unsafe.Pointer(&out.OK)); b > 1 {
		t.Fatalf("a bool whose byte changed to 2 after the check decoded as a bool holding %d (%v)", b, err)
	}
}
