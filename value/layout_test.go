package value

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/pod"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// TestLayout checks the bytes of a value against layout.go: header
// fields, sequence at offSeq (two increments per Store), flags at
// offFlags, the writers word at offWriters, the Mutex's magic in the lock
// line, T at offData.
func TestLayout(t *testing.T) {
	le := binary.LittleEndian
	seg := shmtest.Segment(t, 1<<16)
	v, err := Create(seg, "v", [2]uint64{7, 9})
	if err != nil {
		t.Fatal(err)
	}
	h, body := v.c.Obj.Header, v.c.Obj.Body
	if h.Kind != shm.KindValue || h.Version != cell.Version || h.Capacity != 1 || h.Type != pod.TypeID(reflect.TypeFor[[2]uint64]()) {
		t.Fatalf("header %+v", h)
	}
	if len(body) != offData+16 {
		t.Fatalf("body of %d bytes, want %d", len(body), offData+16)
	}
	if le.Uint64(body[offData:]) != 7 || le.Uint64(body[offData+8:]) != 9 {
		t.Fatalf("data at %d: % x", offData, body[offData:])
	}
	seq := le.Uint64(body[offSeq:])
	v.Store([2]uint64{1, 2})
	if got := le.Uint64(body[offSeq:]); got != seq+2 || got%2 != 0 {
		t.Fatalf("seq %d after one Store from %d", got, seq)
	}
	if string(body[offLock+4:offLock+8]) != "mutx" || le.Uint32(body[offFlags:]) != 0 {
		t.Fatalf("lock line % x, flags % x", body[offLock:offLock+16], body[offFlags:offFlags+4])
	}
	// An integer value's writers word: 0 (Update may store plainly)
	// until the first lock-free writer, 2 from then on.
	n, err := Create[int64](seg, "n", 0)
	if err != nil {
		t.Fatal(err)
	}
	nb := n.c.Obj.Body
	n.Update(func(x *int64) { *x += 3 })
	if w := le.Uint32(nb[offWriters:]); w != 0 || le.Uint64(nb[offSeq:])%2 != 0 {
		t.Fatalf("writers %d, seq %d after an Update, want 0 and even", w, le.Uint64(nb[offSeq:]))
	}
	Add(n, 1)
	if w := le.Uint32(nb[offWriters:]); w != 2 {
		t.Fatalf("writers %d after an Add, want 2", w)
	}
	if got := n.Update(func(x *int64) { *x *= 2 }); got != 8 || le.Uint64(nb[offData:]) != 8 {
		t.Fatalf("Update after Add returned %d, data % x, want 8", got, nb[offData:offData+8])
	}
	r, err := CreateRaw(seg, "r", int16(-2))
	if err != nil {
		t.Fatal(err)
	}
	if rb := r.c.Obj.Body; le.Uint32(rb[offFlags:]) != cell.FlagRaw || int16(le.Uint16(rb[offData:])) != -2 {
		t.Fatalf("raw body % x", rb[:offData+2])
	}
}
