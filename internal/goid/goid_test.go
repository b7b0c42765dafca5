package goid_test

import (
	"testing"

	"github.com/shmkit/shmkit/internal/goid"
)

func TestID(t *testing.T) {
	me := goid.ID()
	if me == 0 || goid.ID() != me {
		t.Fatalf("ID = %d, then %d", me, goid.ID())
	}
	other := make(chan uint64)
	go func() { other <- goid.ID() }()
	if o := <-other; o == me || o == 0 {
		t.Fatalf("another goroutine's ID = %d, ours %d", o, me)
	}
}
