package shm_test

import (
	"bytes"
	"errors"
	"runtime/debug"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// TestReadOnly: a read-only attach sees the writer's bytes, live; it cannot
// write (a store faults, Alloc and typed lookups refuse with ErrReadOnly).
func TestReadOnly(t *testing.T) {
	w := shmtest.Segment(t, 1<<16)
	// Raw bytes far past the objects that Alloc places from the start.
	const at = 1 << 15
	copy(w.Bytes()[at:], "written before")
	raw, err := w.Alloc("raw", shm.ObjectSpec{Kind: shm.KindBytes, BodySize: 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(raw.Body, "object body")
	typed := shm.ObjectSpec{Kind: shm.KindValue, Version: 1, Type: shm.TypeID{Size: 8, Align: 8, Hash: 1}, Capacity: 1, BodySize: 8}
	if _, err := w.Alloc("typed", typed, nil); err != nil {
		t.Fatal(err)
	}

	r, err := shm.Open(w.Name(), shm.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.ReadOnly() || w.ReadOnly() {
		t.Fatalf("ReadOnly() = %v for the read-only attach, %v for the writer", r.ReadOnly(), w.ReadOnly())
	}
	if !bytes.HasPrefix(r.Bytes()[at:], []byte("written before")) {
		t.Fatalf("read-only Bytes hold %q", r.Bytes()[at:at+16])
	}
	copy(w.Bytes()[at+100:], "written after")
	if !bytes.HasPrefix(r.Bytes()[at+100:], []byte("written after")) {
		t.Fatalf("read-only Bytes do not show a later write: %q", r.Bytes()[at+100:at+116])
	}
	o, err := r.Lookup("raw", nil)
	if err != nil || !bytes.HasPrefix(o.Body, []byte("object body")) {
		t.Fatalf("Lookup of a bytes object on a read-only attach: %v", err)
	}
	if got := r.Objects(); len(got) != 2 || r.Info().Objects != 2 {
		t.Fatalf("Objects on a read-only attach: %+v", got)
	}

	if _, err := r.Alloc("more", shm.ObjectSpec{BodySize: 8}, nil); !errors.Is(err, shm.ErrReadOnly) {
		t.Fatalf("Alloc on a read-only attach = %v, want ErrReadOnly", err)
	}
	if _, err := r.Lookup("typed", &typed); !errors.Is(err, shm.ErrReadOnly) {
		t.Fatalf("Lookup of a value on a read-only attach = %v, want ErrReadOnly", err)
	}
	if _, err := w.Lookup("typed", &typed); err != nil {
		t.Fatalf("the writer's Lookup: %v", err)
	}
	if n := w.Info().Objects; n != 2 {
		t.Fatalf("the refused Alloc left %d objects, want 2", n)
	}

	// A store through the read-only mapping faults; with panic-on-fault
	// this goroutine gets it as a panic instead of the process dying.
	faulted := func() (faulted bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { faulted = recover() != nil }()
		r.Bytes()[at+200] = 1
		return false
	}()
	if !faulted || w.Bytes()[at+200] != 0 {
		t.Fatalf("a store through the read-only mapping: faulted %v, byte now %d", faulted, w.Bytes()[at+200])
	}
}
