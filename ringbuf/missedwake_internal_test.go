package ringbuf

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
)

// TestWaitSideMissedWake: a waiter asleep when the state it waits for is
// published with no wake after it (what a waker's load of the waiter count,
// satisfied before its publishing store became visible, leaves: see
// waitSide) looks again after its first park, spin.FirstPark, and a look
// that finds the state changed ends the wait with nil. Without the first
// park it slept until its sleep slice (250 ms) or poll period (an hour
// here) and returned errPoll, having looked once with its count raised.
// (If the state is set only after the first park, the waiter sleeps on
// and returns errPoll after its second look: that round shows the second
// look alone.)
func TestWaitSideMissedWake(t *testing.T) {
	var seq, waiters, parked atomic.Uint32
	o := defaultOptions()
	o.poll = time.Hour
	var w waitSide
	w.init(&seq, &waiters, &parked, &o)
	for round := range 5 {
		var state atomic.Bool
		var registered atomic.Int32 // looks made with the waiter counted
		secondSaw := -1             // what that look found: 1 the state set, 0 not
		ready := func() bool {
			got := state.Load()
			if waiters.Load() != 0 && registered.Add(1) == 2 {
				secondSaw = 0
				if got {
					secondSaw = 1
				}
			}
			return got
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done := make(chan error, 1)
		go func() { done <- w.wait(ctx, ready, nil) }()
		for registered.Load() == 0 {
			runtime.Gosched() // until the re-check after registering: next, it sleeps
		}
		state.Store(true) // and no wake
		err := <-done
		cancel()
		switch {
		case secondSaw < 0:
			t.Fatalf("round %d: wait = %v after one look with the waiter counted; want a second look after the first park", round, err)
		case secondSaw == 1 && err != nil:
			t.Fatalf("round %d: wait = %v; want nil once a look found the state set", round, err)
		case secondSaw == 0 && err != errPoll:
			t.Fatalf("round %d: wait = %v; want errPoll (the state was set after its first park)", round, err)
		}
		if waiters.Load() != 0 {
			t.Fatalf("round %d: %d waiters registered after the wait", round, waiters.Load())
		}
	}
}

// TestWaitSideSettles: a wait whose settle holds (the other side closed
// before the waiter was counted, so that its wake found nobody) ends with
// nil for every strategy, not with errPoll after a sleep slice or
// the context's error after the poll period (an hour here): Park looks at
// settle once counted, Spin and Yield every 1024 looks.
func TestWaitSideSettles(t *testing.T) {
	for _, s := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		var seq, waiters, parked atomic.Uint32
		o := defaultOptions()
		o.poll, o.strategy = time.Hour, s
		var w waitSide
		w.init(&seq, &waiters, &parked, &o)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.wait(ctx, func() bool { return false }, func() bool { return true })
		cancel()
		if err != nil {
			t.Fatalf("%v: wait with settle holding = %v, want nil", s, err)
		}
		if waiters.Load() != 0 {
			t.Fatalf("%v: %d waiters registered after the wait", s, waiters.Load())
		}
	}
}
