package semaphore_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/semaphore"
)

// TestBarrierMoreWaitersThanParties: six goroutines share a barrier of
// three parties, more callers than parties as Python programs often have
// them. A waiter returns without the barrier's lock once it sees the
// phase move, and on a loaded machine it may look only after the other
// goroutines have filled and released the next generation too: it was
// released all the same, and nothing breaks. With an action, a goroutine
// that arrives while the last party runs it waits and arrives in the next
// generation, as in Python's threading.Barrier (whose action runs under
// its lock, and whose _enter waits while the barrier drains). The
// goroutines draw their Waits from one budget, a multiple of the parties,
// so that the last generation always fills (with a fixed count each, two
// goroutines could be left with Waits and no third party). Every
// generation hands out the indices 0..2 once each, and runs the action
// once.
func TestBarrierMoreWaitersThanParties(t *testing.T) {
	for _, withAction := range []bool{false, true} {
		name := "no-action"
		if withAction {
			name = "action"
		}
		t.Run(name, func(t *testing.T) { barrierMoreWaitersThanParties(t, withAction) })
	}
}

func barrierMoreWaitersThanParties(t *testing.T, withAction bool) {
	const parties, goroutines = 3, 6
	b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), parties)
	if err != nil {
		t.Fatal(err)
	}
	gens := shmtest.Iterations(t, 300)
	var actions atomic.Int64
	if withAction {
		b.SetAction(func() error {
			actions.Add(1)
			for range 20 { // an action that takes a while: others arrive meanwhile
				runtime.Gosched()
			}
			return nil
		})
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 60*time.Second))
	var budget atomic.Int64
	budget.Store(int64(gens * parties))
	var indices [parties]atomic.Int64
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for budget.Add(-1) >= 0 {
				idx, err := b.WaitContext(ctx)
				if err != nil {
					errs <- err
					return
				}
				if idx < 0 || idx >= parties {
					errs <- fmt.Errorf("index %d of %d parties", idx, parties)
					return
				}
				indices[idx].Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Wait with %d goroutines on %d parties: %v", goroutines, parties, err)
	}
	if t.Failed() {
		t.FailNow()
	}
	for i := range indices {
		if n := indices[i].Load(); n != int64(gens) {
			t.Errorf("index %d handed out %d times in %d generations", i, n, gens)
		}
	}
	if withAction && actions.Load() != int64(gens) {
		t.Errorf("the action ran %d times in %d generations", actions.Load(), gens)
	}
	if b.Broken() || b.Waiting() != 0 {
		t.Errorf("after the last generation: broken %v, %d waiting", b.Broken(), b.Waiting())
	}
}

// TestBarrierWaiterOutrun: a waiter looks at the phase when it runs, and a
// stopped process (SIGSTOP: a debugger, ^Z, a frozen cgroup, or a machine
// too loaded to run it) may look generations late, or after its
// successor generation broke. Its Wait returns its own generation's
// outcome whatever came after: its release, or ErrBroken if its
// generation was reset. The waiter is a child process's party, stopped in
// generation g while this process moves the barrier on, then continued.
// Generation numbers wrap (30 bits): a barrier 2^29 generations on from
// its last Reset (or from its creation) still tells its late waiters
// their release.
func TestBarrierWaiterOutrun(t *testing.T) {
	// Each step runs with the child's party counted in generation g.
	release := func(ctx context.Context, b *semaphore.Barrier) error { return barrierWait(ctx, b) } // g's last party
	pass := func(ctx context.Context, b *semaphore.Barrier) error { return barrierPass(ctx, b, 2) } // a whole generation
	reset := func(_ context.Context, b *semaphore.Barrier) error { return b.Reset() }
	abort := func(_ context.Context, b *semaphore.Barrier) error { return b.Abort() }
	many := func(ctx context.Context, b *semaphore.Barrier) error {
		for range 100 {
			if err := pass(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}
	// farOn leaves the barrier where 2^29+64 generations without a Reset
	// would (the phase alone moves; running them takes hours): its
	// generation numbers are past half their 30-bit range from the last
	// one logged as reset (or from 0, where none was).
	farOn := func(_ context.Context, b *semaphore.Barrier) error {
		semaphore.BarrierPhase(b).Add((1<<29 + 64) << 2)
		return nil
	}
	type step = func(context.Context, *semaphore.Barrier) error
	for _, tc := range []struct {
		name     string
		before   []step // before the child arrives
		then     []step // the child stopped in g
		released bool   // the child's Wait succeeds
	}{
		{name: "released-then-next", then: []step{release, pass}, released: true},
		{name: "released-then-100", then: []step{release, many}, released: true},
		{name: "released-then-next-broken", then: []step{release, abort}, released: true},
		{name: "released-then-reset", then: []step{release, reset, pass}, released: true},
		{name: "resets-before", before: []step{reset, pass, reset, pass}, then: []step{release, reset, pass, pass}, released: true},
		{name: "released-far-on", before: []step{farOn}, then: []step{release, pass}, released: true},
		{name: "released-far-after-a-reset", before: []step{reset, pass, farOn}, then: []step{release, pass}, released: true},
		{name: "reset-far-on", before: []step{reset, pass, farOn}, then: []step{reset, pass}},
		{name: "reset", then: []step{reset, pass}},
		{name: "broken-then-reset", then: []step{abort, reset, pass, pass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			b, err := semaphore.CreateBarrier(seg, "b", 2)
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
			for _, s := range tc.before {
				if err := s(ctx, b); err != nil {
					t.Fatalf("before the child: %v", err)
				}
			}
			p, err := barrierWaitWorker.Start(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				p.Signal(syscall.SIGCONT)
				p.Kill()
				p.Wait()
			}()
			// Counted, and out of the barrier's lock: stopped inside, it
			// would hold the lock for as long as it is stopped.
			lock, _ := semaphore.MutexWords(semaphore.BarrierLock(b))
			until(t, "the child's party waits", func() bool {
				return b.Waiting() == 1 && lock.Load()&semaphore.MHolderMask == 0 || !p.Alive()
			})
			if !p.Alive() {
				t.Fatalf("the child ended before it waited: %v", p.Wait())
			}
			if err := p.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			until(t, "the child stops", func() bool { return procState(t, p.Pid()) == 'T' })
			phase := semaphore.BarrierPhase(b)
			g := phase.Load()
			for i, s := range tc.then {
				if err := s(ctx, b); err != nil {
					t.Fatalf("step %d, the child stopped: %v", i, err)
				}
			}
			np := phase.Load()
			if err := p.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			err = p.Wait()
			switch {
			case tc.released && err != nil:
				t.Fatalf("the child's party, released in phase %#x and continued in %#x: %v, want its release", g, np, err)
			case !tc.released && (err == nil || !strings.Contains(err.Error(), semaphore.ErrBroken.Error())):
				t.Fatalf("the child's party, reset in phase %#x and continued in %#x: %v, want ErrBroken", g, np, err)
			}
		})
	}
}

// barrierPass runs one generation of n parties, each in a goroutine of its
// own.
func barrierPass(ctx context.Context, b *semaphore.Barrier, n int) error {
	errs := make(chan error, n)
	for range n {
		go func() { errs <- barrierWait(ctx, b) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
