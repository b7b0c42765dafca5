package handoff_test

import (
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
