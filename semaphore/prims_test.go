package semaphore_test

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/internal/sleepslice"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// ---- Semaphore

func TestSemaphoreBasic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	s, err := semaphore.CreateSemaphore(seg, "s", 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Second)
	if err := s.AcquireContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if s.TryAcquire(1) {
		t.Fatal("TryAcquire on an empty semaphore")
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := s.AcquireContext(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with a deadline: %v", err)
	}
	if err := s.Release(3); err != nil { // unbounded: may exceed the start value
		t.Fatal(err)
	}
	if s.Value() != 3 {
		t.Fatalf("value %d", s.Value())
	}
	b, err := semaphore.CreateBoundedSemaphore(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Release(1); !errors.Is(err, semaphore.ErrOverRelease) {
		t.Fatalf("Release past the bound: %v", err)
	}
	if !b.TryAcquire(1) || b.Release(1) != nil || b.Value() != 2 {
		t.Fatal("bounded acquire/release")
	}
	ob, err := semaphore.OpenSemaphore(seg, "b")
	if err != nil {
		t.Fatal(err)
	}
	if ok, n := ob.Bounded(); !ok || n != 2 {
		t.Fatalf("Bounded() = %v %d", ok, n)
	}
	// A waiter blocked on Acquire(2) is woken by two Release(1).
	done := make(chan error)
	s2, _ := semaphore.InitSemaphore(make([]byte, semaphore.SemaphoreSize), 0, false)
	go func() { done <- s2.AcquireContext(ctx, 2) }()
	s2.Release(1)
	s2.Release(1)
	if err := <-done; err != nil || s2.Value() != 0 {
		t.Fatalf("Acquire(2): %v, value %d", err, s2.Value())
	}
}

type semArgs struct {
	S     *semaphore.Semaphore
	F     *flags
	Iters int
	Max   uint32
}

// semWorker: in-use counter in word 0, violations in word 3, peak in 4.
var semWorker = process.Register("sem-sema-hammer", func(ctx context.Context, a semArgs) error {
	inUse, bad, peak := a.F.u32(0), a.F.u32(3), a.F.u32(4)
	a.F.u32(1).Add(1)
	if err := a.F.awaitChild(ctx, 2, 1); err != nil {
		return err
	}
	for i := 0; i < a.Iters; i++ {
		if err := a.S.AcquireContext(ctx, 1); err != nil {
			return err
		}
		n := inUse.Add(1)
		if n > a.Max {
			bad.Add(1)
		}
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		for j := 0; j < 50; j++ { // hold it a little
			if inUse.Load() > a.Max {
				bad.Add(1)
			}
		}
		inUse.Add(^uint32(0))
		if err := a.S.Release(1); err != nil {
			return err
		}
	}
	return nil
})

func TestSemaphoreHammerProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	s, err := semaphore.CreateBoundedSemaphore(seg, "s", 3)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	procs, iters := 6, shmtest.Iterations(t, 20000)
	ctx := ctxFor(t, shmtest.Timeout(t, 50*time.Second))
	var ps []*process.Process
	for i := 0; i < procs; i++ {
		p, err := semWorker.Start(ctx, semArgs{S: s, F: f, Iters: iters, Max: 3})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.await(t, 1, uint32(procs), 20*time.Second)
	f.signal(2, 1)
	waitAll(t, ps)
	if bad := f.u32(3).Load(); bad != 0 {
		t.Fatalf("%d times more than 3 holders", bad)
	}
	if s.Value() != 3 || f.u32(0).Load() != 0 {
		t.Fatalf("value %d, in use %d after the run", s.Value(), f.u32(0).Load())
	}
	t.Logf("peak holders %d", f.u32(4).Load())
}

// ---- Event

func TestEventBasic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	e, err := semaphore.CreateEvent(seg, "e")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if e.IsSet() || e.WaitContext(short) {
		t.Fatal("a clear event reported set")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !e.WaitContext(ctxFor(t, 10*time.Second)) {
				t.Error("Wait returned false before the timeout")
			}
		}()
	}
	e.Set()
	wg.Wait()
	e.Clear()
	if e.IsSet() {
		t.Fatal("set after Clear")
	}
}

type eventArgs struct {
	E, Back *semaphore.Event
	F       *flags
	Rounds  int
}

// eventWorker answers each Set of E with a Set of Back.
var eventWorker = process.Register("sem-event-echo", func(ctx context.Context, a eventArgs) error {
	for i := 0; i < a.Rounds; i++ {
		if !a.E.WaitContext(ctx) {
			return ctx.Err()
		}
		a.E.Clear()
		a.Back.Set()
	}
	return nil
})

func TestEventProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	e, _ := semaphore.CreateEvent(seg, "ping")
	back, _ := semaphore.CreateEvent(seg, "pong")
	rounds := shmtest.Iterations(t, 2000)
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	p, err := eventWorker.Start(ctx, eventArgs{E: e, Back: back, Rounds: rounds})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rounds; i++ {
		back.Clear()
		e.Set()
		if !back.WaitContext(ctx) {
			t.Fatalf("round %d: no answer", i)
		}
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// ---- Cond

type condArgs struct {
	C      *semaphore.Cond
	F      *flags
	ID, N  int
	Rounds int
	Signal bool
}

// condTurns: word 0 is the turn counter (under C.L); process ID moves it
// when turn%N == ID. Its Cond waits have nothing but a notification's wake
// to end them: Cond waiters have no poll, ctx (a child's) cannot end, and
// atomics' sleep slice, which would turn a lost wake-up into a delay of
// 250 ms, is made an hour.
var condTurns = process.Register("sem-cond-turns", func(ctx context.Context, a condArgs) error {
	sleepslice.Set(time.Hour)
	turn := a.F.u64(0)
	for {
		if err := a.C.L.LockContext(ctx); err != nil {
			return err
		}
		for turn.Load() < uint64(a.Rounds) && int(turn.Load()%uint64(a.N)) != a.ID {
			if err := a.C.WaitContext(ctx); err != nil {
				return err
			}
		}
		if turn.Load() >= uint64(a.Rounds) {
			a.C.L.Unlock()
			return nil
		}
		turn.Store(turn.Load() + 1)
		if a.Signal {
			a.C.Signal()
		} else {
			a.C.Broadcast()
		}
		a.C.L.Unlock()
	}
})

func testCondTurns(t *testing.T, procs int, signal bool) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := semaphore.CreateCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	rounds := shmtest.Iterations(t, 10000)
	// Cancelled, which kills the children, only when the turns stall: the
	// run's length depends on the machine's load (0.05 s idle, 23 to 36 s
	// beside 8 busy loops on 2 cores), a turn's does not come near
	// patience.
	ctx, stall := context.WithCancel(context.Background())
	defer stall()
	var ps []*process.Process
	for i := 0; i < procs; i++ {
		p, err := condTurns.Start(ctx, condArgs{C: c, F: f, ID: i, N: procs, Rounds: rounds, Signal: signal})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// A lost wake-up leaves the process whose turn it is asleep for good
	// (see condTurns), and every other one waits for its turn: the turn
	// counter stops.
	exited := make(chan struct{})
	go func() {
		for _, p := range ps {
			p.Wait()
		}
		close(exited)
	}()
	patience := shmtest.Timeout(t, 30*time.Second)
	turn := f.u64(0)
	for last := turn.Load(); ; last = turn.Load() {
		select {
		case <-exited:
		case <-time.After(patience):
			if turn.Load() != last {
				continue
			}
			stall()
			<-exited
			waitAll(t, ps) // a child that failed, rather than slept, says why
			t.Fatalf("no turn taken in %v at turn %d of %d: the process whose turn it was never woke (a lost wake-up)", patience, last, rounds)
		}
		break
	}
	waitAll(t, ps)
	if got := turn.Load(); got != uint64(rounds) {
		t.Fatalf("turn %d, want %d", got, rounds)
	}
}

// TestCondBroadcastProcesses: 4 processes take turns, 10,000 rounds.
func TestCondBroadcastProcesses(t *testing.T) { testCondTurns(t, 4, false) }

// TestCondSignalProcesses: 2 processes ping-pong with Signal, 10,000 rounds.
func TestCondSignalProcesses(t *testing.T) { testCondTurns(t, 2, true) }

// condWaiter locks L, says so in word 0 (value ID), waits once, then says it
// woke in word 1 and waits (holding L) to be killed.
var condWaiter = process.Register("sem-cond-waiter", func(ctx context.Context, a condArgs) error {
	if err := a.C.L.LockContext(ctx); err != nil {
		return err
	}
	a.F.signal(0, uint32(a.ID))
	if err := a.C.WaitContext(ctx); err != nil {
		return err
	}
	a.F.signal(1, uint32(a.ID))
	select {}
})

// TestCondCrash: a waiter killed while parked wedges nobody; a waiter killed
// after waking (holding L) leaves L to the survivor with ErrOwnerDead.
func TestCondCrash(t *testing.T) {
	trials := shmtest.Iterations(t, 20)
	for i := 0; i < trials; i++ {
		seg := shmtest.Segment(t, 1<<16)
		c, _ := semaphore.CreateCond(seg, "c")
		f := newFlags(t, seg, "flags")
		ctx := ctxFor(t, 10*time.Second)
		a, err := condWaiter.Start(ctx, condArgs{C: c, F: f, ID: 1})
		if err != nil {
			t.Fatal(err)
		}
		f.await(t, 0, 1, 10*time.Second)
		if err := c.L.LockContext(ctx); err != nil { // a is inside Wait now
			t.Fatal(err)
		}
		c.L.Unlock()
		b, err := condWaiter.Start(ctx, condArgs{C: c, F: f, ID: 2})
		if err != nil {
			t.Fatal(err)
		}
		f.await(t, 0, 2, 10*time.Second)
		if err := c.L.LockContext(ctx); err != nil { // b is inside Wait now
			t.Fatal(err)
		}
		a.Kill() // killed while waiting
		a.Wait()
		c.Signal() // one signal for one live waiter
		c.L.Unlock()
		f.await(t, 1, 2, recoverWithin) // b woke and holds L
		b.Kill()
		start := time.Now()
		lctx, cancel := context.WithTimeout(ctx, recoverWithin)
		err = c.L.LockContext(lctx)
		cancel()
		if !errors.Is(err, semaphore.ErrOwnerDead) {
			t.Fatalf("trial %d: Lock after the woken waiter was killed: %v", i, err)
		}
		c.L.MarkConsistent()
		c.L.Unlock()
		b.Wait()
		t.Logf("trial %d: recovered in %v", i, time.Since(start))
	}
}

// ---- RWMutex

func TestRWMutexBasic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 10*time.Second)
	if err := rw.RLockContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rw.RLockContext(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := rw.LockContext(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while read-locked: %v", err)
	}
	if !rw.TryRLock() { // the abandoned writer left no mark
		t.Fatal("TryRLock after an abandoned Lock")
	}
	rw.RUnlock()
	rw.RUnlock()
	rw.RUnlock()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	if rw.TryRLock() {
		t.Fatal("TryRLock while write-locked")
	}
	rw.Unlock()

	// Goroutines: readers and writers on a two-word invariant.
	var a, b int
	var wg sync.WaitGroup
	n := shmtest.Iterations(t, 2000)
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := rw.LockContext(ctx); err != nil {
					t.Error(err)
					return
				}
				a++
				b++
				rw.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := rw.RLockContext(ctx); err != nil {
					t.Error(err)
					return
				}
				if a != b {
					t.Error("reader saw a half-done write")
				}
				rw.RUnlock()
			}
		}()
	}
	wg.Wait()
	if a != 4*n {
		t.Fatalf("a = %d, want %d", a, 4*n)
	}
}

type rwArgs struct {
	RW    *semaphore.RWMutex
	F     *flags
	Write bool
}

// rwHold takes RW (for writing or reading), says so in word 0, and waits to
// be killed.
var rwHold = process.Register("sem-rw-hold", func(ctx context.Context, a rwArgs) error {
	var err error
	if a.Write {
		err = a.RW.LockContext(ctx)
	} else {
		err = a.RW.RLockContext(ctx)
	}
	if err != nil {
		return err
	}
	a.F.signal(0, 1)
	select {}
})

func TestRWMutexWriterCrash(t *testing.T) {
	trials := shmtest.Iterations(t, 20)
	for i := 0; i < trials; i++ {
		seg := shmtest.Segment(t, 1<<16)
		rw, _ := semaphore.CreateRWMutex(seg, "rw")
		f := newFlags(t, seg, "flags")
		p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f, Write: true})
		if err != nil {
			t.Fatal(err)
		}
		f.await(t, 0, 1, 10*time.Second)
		p.Kill()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), recoverWithin)
		err = rw.LockContext(ctx)
		cancel()
		if !errors.Is(err, semaphore.ErrOwnerDead) {
			t.Fatalf("trial %d: Lock after the writer was killed: %v", i, err)
		}
		rw.MarkConsistent()
		rw.Unlock()
		if err := rw.RLockContext(ctxFor(t, recoverWithin)); err != nil {
			t.Fatal(err)
		}
		rw.RUnlock()
		p.Wait()
		t.Logf("trial %d: recovered in %v", i, time.Since(start))
	}
}

// TestRWMutexReaderAfterDeadWriter: a reader waiting behind a writer that
// dies takes the write lock over, with ErrOwnerDead.
func TestRWMutexReaderAfterDeadWriter(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		rWMutexReaderAfterDeadWriter(t)
	}
}

func rWMutexReaderAfterDeadWriter(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, _ := semaphore.CreateRWMutex(seg, "rw")
	f := newFlags(t, seg, "flags")
	p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	f.await(t, 0, 1, 10*time.Second)
	p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), recoverWithin)
	defer cancel()
	if err := rw.RLockContext(ctx); !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatalf("RLock behind a dead writer: %v", err)
	}
	rw.MarkConsistent()
	rw.Unlock()
	p.Wait()
}

// TestRWMutexReaderAfterAbandonedRepair: a writer died announced, and the
// writer that took its lock over gave up (its ctx ended while a reader
// held on) before it repaired: the lock is left unlocked and inconsistent.
// A reader must then get ErrOwnerDead with the lock held for writing, as a
// reader behind the dead writer does, not a read hold over the half-done
// write; TryRLock must not take one either.
func TestRWMutexReaderAfterAbandonedRepair(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, _ := semaphore.CreateRWMutex(seg, "rw")
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, recoverWithin)
	if err := rw.RLockContext(ctx); err != nil { // keeps the writers below draining
		t.Fatal(err)
	}
	p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	// The child has announced itself once a TryRLock is refused; it then
	// waits for this process's read hold to go.
	for deadline := time.Now().Add(10 * time.Second); rw.TryRLock(); runtime.Gosched() {
		rw.RUnlock()
		if time.Now().After(deadline) {
			p.Kill()
			p.Wait()
			t.Fatal("the writer never announced itself")
		}
	}
	p.Kill()
	p.Wait()
	// A writer of this process takes the dead writer's lock over, then gives
	// up while the read hold stays.
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rw.LockContext(wctx) }()
	w := semaphore.RWMutexWriter(rw)
	for deadline := time.Now().Add(10 * time.Second); w.Owner().Pid != os.Getpid(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Error("the writer never took the dead writer's lock over")
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the writer that gave up: %v", err)
	}
	rw.RUnlock()
	if rw.TryRLock() {
		rw.RUnlock()
		t.Error("TryRLock took a read hold over a dead writer's unrepaired state")
	}
	if err := rw.RLockContext(ctx); !errors.Is(err, semaphore.ErrOwnerDead) {
		if err == nil {
			rw.RUnlock()
		}
		t.Fatalf("RLock after the repair was abandoned: %v, want ErrOwnerDead", err)
	}
	rw.MarkConsistent()
	rw.Unlock()
	rw.RLock() // repaired: readers read again
	//lint:ignore SA2001 the RLock is what the test checks: repaired, readers read again
	rw.RUnlock()
}

// TestRWMutexReaderCrash: a reader killed holding a read lock does not keep
// writers out: its hold is released by the next writer.
func TestRWMutexReaderCrash(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		rWMutexReaderCrash(t)
	}
}

func rWMutexReaderCrash(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, _ := semaphore.CreateRWMutex(seg, "rw")
	f := newFlags(t, seg, "flags")
	p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f})
	if err != nil {
		t.Fatal(err)
	}
	f.await(t, 0, 1, 10*time.Second)
	if err := rw.RLockContext(ctxFor(t, recoverWithin)); err != nil { // readers share
		t.Fatal(err)
	}
	rw.RUnlock()
	p.Kill()
	p.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), recoverWithin)
	defer cancel()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatalf("Lock after the reader was killed: %v", err)
	}
	rw.Unlock()
}

// ---- Barrier

type barrierArgs struct {
	B      *semaphore.Barrier
	F      *flags
	ID     int
	Phases int
}

// barrierWorker: word 8+ID holds the phase it is in; after each Wait every
// party must be in this phase or the next (lockstep). Errors in word 6;
// arrival indices summed in u64(7).
var barrierWorker = process.Register("sem-barrier-phases", func(ctx context.Context, a barrierArgs) error {
	n := a.B.Parties()
	for ph := 1; ph <= a.Phases; ph++ {
		a.F.u32(8 + a.ID).Store(uint32(ph))
		idx, err := a.B.WaitContext(ctx)
		if err != nil {
			return err
		}
		a.F.u64(7).Add(uint64(idx))
		for j := 0; j < n; j++ {
			if v := a.F.u32(8 + j).Load(); v != uint32(ph) && v != uint32(ph+1) {
				a.F.u32(6).Add(1)
			}
		}
	}
	return nil
})

func TestBarrierProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	const n = 4
	b, err := semaphore.CreateBarrier(seg, "b", n)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	phases := shmtest.Iterations(t, 2000)
	ctx := ctxFor(t, shmtest.Timeout(t, 50*time.Second))
	var ps []*process.Process
	for i := 0; i < n; i++ {
		p, err := barrierWorker.Start(ctx, barrierArgs{B: b, F: f, ID: i, Phases: phases})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	waitAll(t, ps)
	if bad := f.u32(6).Load(); bad != 0 {
		t.Fatalf("%d lockstep violations", bad)
	}
	if got, want := f.u64(7).Load(), uint64(phases*n*(n-1)/2); got != want {
		t.Fatalf("arrival indices sum to %d, want %d", got, want)
	}
}

// waitingParty starts a goroutine that waits on b under ctx, and returns
// once b counts it as its only waiting party; the Wait's error comes on
// the channel.
func waitingParty(ctx context.Context, b *semaphore.Barrier) <-chan error {
	errs := make(chan error, 1)
	go func() { _, err := b.WaitContext(ctx); errs <- err }()
	for b.Waiting() != 1 {
		runtime.Gosched() // polling a condition, not synchronising on time
	}
	return errs
}

// barrierWaitWorker waits on the barrier once (the test kills it there).
var barrierWaitWorker = process.Register("sem-barrier-wait", func(ctx context.Context, b *semaphore.Barrier) error {
	_, err := b.WaitContext(ctx)
	return err
})

// TestBarrierPartyDies: a process SIGKILLed while it waits on the barrier
// breaks it; the parties waiting with it get ErrBroken within the poll
// period, not at the end of their context.
func TestBarrierPartyDies(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		barrierPartyDies(t)
	}
}

func barrierPartyDies(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 20*time.Second)
	errs := waitingParty(ctx, b)
	p, err := barrierWaitWorker.Start(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for b.Waiting() != 2 {
		if !p.Alive() {
			t.Fatalf("child ended before it waited: %v", p.Wait())
		}
		runtime.Gosched()
	}
	p.Kill()
	p.Wait()
	err = <-errs
	if !errors.Is(err, semaphore.ErrBroken) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "died") {
		t.Fatalf("Wait beside a party that died: %v, want ErrBroken naming the death", err)
	}
	if _, err := b.WaitContext(ctx); !errors.Is(err, semaphore.ErrBroken) || !b.Broken() {
		t.Fatalf("Wait after a party died: %v", err)
	}
	// Reset forgets the dead party: three goroutines pass.
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.WaitContext(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestBarrierPartyDiesInLock: a party that dies holding the barrier's lock
// (it may have counted itself without being recorded) breaks the barrier
// for the party already waiting, which does not take the lock by itself.
func TestBarrierPartyDiesInLock(t *testing.T) {
	b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 20*time.Second)
	errs := waitingParty(ctx, b)
	pid := deadPid(t)
	forgeHolder(semaphore.BarrierLock(b), pid, procinfo.Ident{Pid: int32(pid)}.Word())
	err = <-errs
	if !errors.Is(err, semaphore.ErrBroken) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "inside the barrier") {
		t.Fatalf("Wait beside a party dead in the lock: %v, want ErrBroken naming the death", err)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken")
	}
}

// TestBarrierOldLayout: memory that a build before the party slots laid
// out (magic "barr", 128 bytes) is refused, not read as slots.
func TestBarrierOldLayout(t *testing.T) {
	mem := make([]byte, semaphore.BarrierSize)
	if _, err := semaphore.InitBarrier(mem, 3); err != nil {
		t.Fatal(err)
	}
	copy(mem[68:], "barr")
	if _, err := semaphore.BarrierAt(mem); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("BarrierAt on a version-1 barrier: %v, want ErrIncompatible", err)
	}
}

func TestBarrierBroken(t *testing.T) {
	b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 10*time.Second)
	// A party that times out breaks the barrier for the others.
	errs := waitingParty(ctx, b)
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := b.WaitContext(short); !errors.Is(err, semaphore.ErrBroken) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out Wait: %v", err)
	}
	if err := <-errs; !errors.Is(err, semaphore.ErrBroken) {
		t.Fatalf("other waiter: %v", err)
	}
	if _, err := b.WaitContext(ctx); !errors.Is(err, semaphore.ErrBroken) || !b.Broken() {
		t.Fatalf("Wait on a broken barrier: %v", err)
	}
	b.Reset()
	if b.Broken() {
		t.Fatal("broken after Reset")
	}
	// Reusable: three phases of three goroutines, indices 0..2 each phase.
	for ph := 0; ph < 3; ph++ {
		var wg sync.WaitGroup
		seen := make([]int, 3)
		var mu sync.Mutex
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				i, err := b.WaitContext(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[i]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if fmt.Sprint(seen) != "[1 1 1]" {
			t.Fatalf("phase %d: indices %v", ph, seen)
		}
	}
	// Abort wakes the waiters with ErrBroken.
	errs = waitingParty(ctx, b)
	b.Abort()
	if err := <-errs; !errors.Is(err, semaphore.ErrBroken) {
		t.Fatalf("Wait across Abort: %v", err)
	}
}

// ---- handles travel

type allArgs struct {
	M  *semaphore.Mutex
	RW *semaphore.RWMutex
	S  *semaphore.Semaphore
	E  *semaphore.Event
	C  *semaphore.Cond
	B  *semaphore.Barrier
}

var allWorker = process.Register("sem-all-handles", func(ctx context.Context, a allArgs) error {
	if ok, _ := a.M.TryLock(); !ok {
		return errors.New("mutex not free")
	}
	if !a.RW.TryRLock() {
		return errors.New("rwmutex not free")
	}
	a.RW.RUnlock()
	if !a.S.TryAcquire(5) {
		return errors.New("semaphore value")
	}
	a.E.Set()
	if a.B.Parties() != 7 {
		return errors.New("barrier parties")
	}
	if err := a.C.L.LockContext(ctx); err != nil {
		return err
	}
	a.C.L.Unlock()
	return nil
})

func TestHandlesTravel(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	var a allArgs
	var err error
	must := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	a.M, err = semaphore.CreateMutex(seg, "m")
	must(err)
	a.RW, err = semaphore.CreateRWMutex(seg, "rw")
	must(err)
	a.S, err = semaphore.CreateSemaphore(seg, "s", 5)
	must(err)
	a.E, err = semaphore.CreateEvent(seg, "e")
	must(err)
	a.C, err = semaphore.CreateCond(seg, "c")
	must(err)
	a.B, err = semaphore.CreateBarrier(seg, "b", 7)
	must(err)
	if err := allWorker.Run(ctxFor(t, 20*time.Second), a); err != nil {
		t.Fatal(err)
	}
	if !a.E.IsSet() || a.S.Value() != 0 || a.M.Owner().Pid == 0 {
		t.Fatal("the child's work is not visible")
	}
	// Open by name and through gob in this process too.
	var b strings.Builder
	if err := gob.NewEncoder(&b).Encode(&a); err != nil {
		t.Fatal(err)
	}
	var back allArgs
	if err := gob.NewDecoder(strings.NewReader(b.String())).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !back.E.IsSet() || back.B.Parties() != 7 {
		t.Fatal("decoded handles do not see the objects")
	}
	for _, open := range []func() error{
		func() error { _, err := semaphore.OpenRWMutex(seg, "rw"); return err },
		func() error { _, err := semaphore.OpenEvent(seg, "e"); return err },
		func() error { _, err := semaphore.OpenCond(seg, "c"); return err },
		func() error { _, err := semaphore.OpenBarrier(seg, "b"); return err },
	} {
		must(open())
	}
	if _, err := semaphore.OpenBarrier(seg, "e"); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("OpenBarrier of an event: %v", err)
	}
}

// TestParkedGoroutinesShareThreads: a thousand goroutines parked on one
// Event do not hold a thousand OS threads (atomics.Await keeps one sleeper
// per process per word).
func TestParkedGoroutinesShareThreads(t *testing.T) {
	e, _ := semaphore.InitEvent(make([]byte, semaphore.EventSize))
	ctx := ctxFor(t, 20*time.Second)
	threads := func() int { return pprof.Lookup("threadcreate").Count() }
	before := threads()
	const n = 1000
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !e.WaitContext(ctx) {
				t.Error("Wait timed out")
			}
		}()
	}
	for semaphore.EventSleepers(e) < n {
		runtime.Gosched() // polling a condition, not synchronising on time
	}
	time.Sleep(20 * time.Millisecond) // let them reach the kernel: threads are what we count
	grown := threads() - before
	e.Set()
	wg.Wait()
	t.Logf("%d goroutines parked, %d threads created", n, grown)
	if grown > 50 {
		t.Fatalf("%d parked goroutines created %d OS threads", n, grown)
	}
}
