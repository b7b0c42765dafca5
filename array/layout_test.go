package array

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/pod"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// TestLayout checks the bytes of an array against layout.go: header
// fields, elements at offData + i·size, sequence at offSeq (two
// increments per write), flags, and the Mutex's magic in the lock line.
func TestLayout(t *testing.T) {
	le := binary.LittleEndian
	seg := shmtest.Segment(t, 1<<16)
	a, err := CreateFrom(seg, "a", []uint32{10, 11, 12})
	if err != nil {
		t.Fatal(err)
	}
	h, body := a.c.Obj.Header, a.c.Obj.Body
	if h.Kind != shm.KindArray || h.Version != cell.ArrayVersion || h.Capacity != 3 || h.Type != pod.TypeID(reflect.TypeFor[uint32]()) {
		t.Fatalf("header %+v", h)
	}
	if len(body) != offData+12 {
		t.Fatalf("body of %d bytes, want %d", len(body), offData+12)
	}
	for i := range 3 {
		if got := le.Uint32(body[offData+4*i:]); got != uint32(10+i) {
			t.Fatalf("element %d at %d holds %d", i, offData+4*i, got)
		}
	}
	seq := le.Uint64(body[offSeq:])
	a.Set(1, 5)
	if got := le.Uint64(body[offSeq:]); got != seq+2 {
		t.Fatalf("seq %d after one Set from %d", got, seq)
	}
	if string(body[offLock+4:offLock+8]) != "mutx" || le.Uint32(body[offFlags:]) != 0 {
		t.Fatalf("lock line % x, flags % x", body[offLock:offLock+16], body[offFlags:offFlags+4])
	}
	r, err := CreateRawFrom(seg, "r", []int8{-1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if rb := r.c.Obj.Body; le.Uint32(rb[offFlags:]) != cell.FlagRaw || int8(rb[offData]) != -1 || rb[offData+1] != 2 {
		t.Fatalf("raw body % x", rb[:offData+2])
	}
}
