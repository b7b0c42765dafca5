package handoff_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/internal/handoff"
)

type word struct{ atomic.Uint64 }

// TestActiveOnlyInTheCollectingGoroutine: an object that another goroutine
// encodes while a Start collects (to a file, say) reserves nothing for that
// child: a pipe end would otherwise be handed to a process it never reached.
func TestActiveOnlyInTheCollectingGoroutine(t *testing.T) {
	var w word
	w.Store(7)
	other := make(chan bool)
	added := make(chan struct{})
	b, err := handoff.Collect(func() error {
		if !handoff.Active() {
			t.Error("Active is false inside Collect")
		}
		go func() {
			other <- handoff.Active()
			handoff.Add(handoff.Slot{Word: &w, StandIn: 7, Prev: 1}) // not ours: aborted at once
			close(added)
		}()
		if <-other {
			t.Error("Active is true in another goroutine")
		}
		<-added
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Commit(99)
	if w.Load() != 1 {
		t.Fatalf("a reservation made outside the collecting goroutine was committed: %d", w.Load())
	}
	if handoff.Active() {
		t.Fatal("Active after Collect")
	}
}

// TestCollectPanicAbortsReservations: an encoding that panics (a GobEncode
// or MarshalBinary of the caller's that does) after an object reserved a
// slot must give the slot back, as a failed encoding does. The stand-in
// reads as alive while this process lives: left in place, it is a peer
// that never comes, and a waiter for that side's end (a Get waiting for
// every producer to be gone) waits as long as this process lives, a
// server that recovers the panic of its Start for ever. Nor may a later
// encoding of this goroutine still count as collecting.
func TestCollectPanicAbortsReservations(t *testing.T) {
	var w word
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Collect swallowed its encoding's panic")
			}
		}()
		handoff.Collect(func() error {
			w.Store(7) // the object's stand-in
			handoff.Add(handoff.Slot{Word: &w, StandIn: 7, Prev: 0})
			panic("encoding failed")
		})
	}()
	if got := w.Load(); got != 0 {
		t.Fatalf("the slot a panicking encoding reserved holds %d, want it given back (0)", got)
	}
	if handoff.Active() {
		t.Fatal("Active after a Collect whose encoding panicked")
	}
}

// TestCollectErrorAbortsReservations: an encoding that fails gives its
// reservations back.
func TestCollectErrorAbortsReservations(t *testing.T) {
	var w word
	b, err := handoff.Collect(func() error {
		w.Store(7)
		handoff.Add(handoff.Slot{Word: &w, StandIn: 7, Prev: 0})
		return errors.New("encoding failed")
	})
	if err == nil || b != nil {
		t.Fatalf("Collect = %v, %v; want no batch and the error", b, err)
	}
	if got := w.Load(); got != 0 {
		t.Fatalf("the slot a failed encoding reserved holds %d, want it given back (0)", got)
	}
}
