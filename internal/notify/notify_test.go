package notify_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
)

func TestEventNoLostWakeup(t *testing.T) {
	var seq, sleepers atomic.Uint32
	e := notify.Event{Seq: &seq, Sleepers: &sleepers}
	var state atomic.Int64
	const rounds = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); i <= rounds; i++ {
			err := e.Wait(context.Background(), nil, func() (bool, error) { return state.Load() >= i, nil })
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 1; i <= rounds; i++ {
		state.Add(1)
		e.Notify()
		if i%100 == 0 {
			runtime.Gosched() // let the waiter catch up and park sometimes
		}
	}
	wg.Wait()
	if sleepers.Load() != 0 {
		t.Fatalf("sleepers = %d after the waiter left", sleepers.Load())
	}
}

// TestWaitForProbe: a WaitFor that spins and parks runs its try only when
// its probe reports a change (once before the spin, once before it sleeps,
// once after the wake), however long it spins; the probe runs meanwhile,
// and a learning handle or none, the wait ends when the state changes and
// a Notify comes, with no wake-up lost, over many rounds.
func TestWaitForProbe(t *testing.T) {
	var seq, sleepers atomic.Uint32
	e := notify.Event{Seq: &seq, Sleepers: &sleepers}
	var state atomic.Int64
	var a spin.Adaptive
	for _, learn := range []*spin.Adaptive{nil, &a} {
		for range 20 {
			i := state.Load() + 1
			var tries, probes int
			done := make(chan error, 1)
			go func() {
				done <- e.WaitFor(context.Background(), nil, learn,
					func() bool { probes++; return state.Load() >= i },
					func() (bool, error) { tries++; return state.Load() >= i, nil })
			}()
			for sleepers.Load() == 0 {
				runtime.Gosched() // until the waiter has spun and is about to sleep
			}
			state.Add(1)
			e.Notify()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if tries > 4 || probes == 0 {
				t.Fatalf("round %d: %d tries and %d probes; want at most 4 tries (the probe gates them)", i, tries, probes)
			}
		}
	}
	if sleepers.Load() != 0 {
		t.Fatalf("sleepers = %d after the waiter left", sleepers.Load())
	}
}

func TestEventCheckAndContext(t *testing.T) {
	var seq, sleepers atomic.Uint32
	e := notify.Event{Seq: &seq, Sleepers: &sleepers}
	never := func() (bool, error) { return false, nil }
	boom := errors.New("boom")
	o := &atomics.WaitOptions{Poll: time.Millisecond, Check: func() error { return boom }}
	if err := e.Wait(context.Background(), o, never); err != boom {
		t.Fatalf("Wait with a failing Check = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	for _, s := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		if err := e.Wait(ctx, &atomics.WaitOptions{Strategy: s}, never); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v: Wait past the deadline = %v", s, err)
		}
	}
	// A context done before the Wait ends it after one look, and the look
	// again that Wait makes on an error: not after a spin of looks.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	for _, s := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		looks := 0
		count := func() (bool, error) { looks++; return false, nil }
		if err := e.Wait(done, &atomics.WaitOptions{Strategy: s}, count); !errors.Is(err, context.Canceled) || looks > 2 {
			t.Fatalf("%v: Wait with a done context = %v after %d looks, want context.Canceled after 2 at most", s, err, looks)
		}
	}
}

func TestPeers(t *testing.T) {
	p := make(notify.Peers, 4)
	if joined, alive := p.State(); joined || alive || p.Dead() {
		t.Fatal("empty table is not empty")
	}
	p[0].Store(procinfo.Ident{Pid: 1 << 30, Start: 1}.Word()) // no such process
	if !p.Dead() {
		t.Fatal("a table of dead processes is not Dead")
	}
	if !p.Join() || p.Dead() {
		t.Fatal("Join did not record this process")
	}
	if p[0].Load() != procinfo.Self().Word() {
		t.Fatal("Join did not reuse the dead process's slot")
	}
	p.Join()
	n := 0
	for i := range p {
		if p[i].Load() != 0 {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("joining twice took %d slots", n)
	}
}

// TestEventMissedNotify: a waiter asleep when the state it waits for
// changes with no Notify after it (what a notifier's load of Seq, satisfied
// before its store became visible, leaves: see Event) looks again after
// its first park, spin.FirstPark, before any poll: without the first
// park its next look came only after its Check, at the end of its sleep
// slice (250 ms) or poll period (an hour here). A look that finds the
// state changed ends the wait. (If the state is set only after the first
// park, the waiter sleeps on: that round shows the order of looks alone.)
func TestEventMissedNotify(t *testing.T) {
	var seq, sleepers atomic.Uint32
	e := notify.Event{Seq: &seq, Sleepers: &sleepers}
	var polled atomic.Int32
	o := &atomics.WaitOptions{Poll: time.Hour, Check: func() error { polled.Add(1); return nil }}
	for round := range 5 {
		polled.Store(0)
		var state atomic.Int64
		var asleep atomic.Int32 // looks made with the sleep bit set
		polledBeforeSecond := int32(-1)
		ready := func() (bool, error) {
			if sleepers.Load() != 0 && asleep.Add(1) == 2 {
				polledBeforeSecond = polled.Load()
			}
			return state.Load() != 0, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done := make(chan error, 1)
		go func() { done <- e.WaitFor(ctx, o, nil, nil, ready) }()
		for asleep.Load() == 0 {
			runtime.Gosched() // until the re-check after the sleep bit: next, it sleeps
		}
		state.Store(1) // and no Notify
		err := <-done
		cancel()
		if err != nil || polledBeforeSecond != 0 {
			t.Fatalf("round %d: Wait = %v, %d polls before the look after its first sleep; want nil, none (a missed Notify must cost FirstPark, not a sleep slice or poll period)", round, err, polledBeforeSecond)
		}
	}
}
