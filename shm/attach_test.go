package shm_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// Each Attach returns a Segment of its own over one mapping: closing one
// (twice, even) leaves the others working, the last unmaps, and a later
// Attach maps afresh.
func TestAttachCounted(t *testing.T) {
	name := fmt.Sprintf("shmkit-test-attach-%d", os.Getpid())
	seg, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	h, err := seg.Handle()
	if err != nil {
		t.Fatal(err)
	}
	a, err := shm.Attach(h)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shm.Attach(h)
	if err != nil {
		t.Fatal(err)
	}
	if n := shm.AttachRefs(h); n != 2 {
		t.Fatalf("refs = %d, want 2", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // idempotent: does not drop b's reference
		t.Fatal(err)
	}
	if n := shm.AttachRefs(h); n != 1 {
		t.Fatalf("refs after closing one twice = %d, want 1", n)
	}
	if _, err := a.Lookup("x", nil); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Lookup on a closed Segment: %v, want ErrClosed", err)
	}
	spec := shm.ObjectSpec{Kind: shm.KindBytes, Version: 1, Capacity: 8, BodySize: 8}
	if _, err := b.Alloc("x", spec, nil); err != nil {
		t.Fatalf("Alloc through the other Segment: %v", err)
	}
	if _, err := seg.Lookup("x", &spec); err != nil {
		t.Fatalf("the creator does not see the object: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := shm.AttachRefs(h); n != 0 {
		t.Fatalf("refs after the last Close = %d, want 0", n)
	}
	c, err := shm.Attach(h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Lookup("x", &spec); err != nil {
		t.Fatalf("a fresh Attach: %v", err)
	}
}

// A handle of a named segment whose name was unlinked and then taken by
// another segment names the first, not its successor: Attach refuses it
// rather than map the stranger. Handle read the inode through the name,
// so the handle named the successor, and Attach mapped it.
func TestHandleOfReplacedSegment(t *testing.T) {
	name := shmtest.Name(t)
	old, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Unlink(); err != nil {
		t.Fatal(err)
	}
	successor, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer successor.Close()
	defer successor.Unlink()
	h, err := old.Handle()
	if err != nil {
		t.Fatal(err)
	}
	s, err := shm.Attach(h)
	if err == nil {
		s.Close()
		t.Fatal("Attach of the unlinked segment's handle mapped the segment now under its name")
	}
	if !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Attach of the unlinked segment's handle: %v, want ErrNotExist", err)
	}
}
