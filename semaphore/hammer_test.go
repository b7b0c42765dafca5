package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// TestMutexCancelHammer: lockers whose contexts end while they spin, count
// themselves, park or have just been woken, beside lockers that wait as long
// as it takes. A waiter that leaves must not take a wake-up with it nor
// leave the sleepers count wrong: every patient locker gets the lock before
// the test's deadline, the counter is exact, and the count is back to 0.
func TestMutexCancelHammer(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	n, per := 6, shmtest.Iterations(t, 3000)
	counter, taken := 0, 0
	var mu sync.Mutex // guards taken: counted by the lockers that got the lock
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				lctx, cancel := ctx, context.CancelFunc(func() {})
				if g%2 == 1 { // an impatient locker: its wait ends after 0-63 µs
					lctx, cancel = context.WithTimeout(ctx, time.Duration((i*7+g)%64)*time.Microsecond)
				}
				err := m.LockContext(lctx)
				cancel()
				switch {
				case err == nil:
				case g%2 == 1 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
					continue
				default:
					t.Errorf("locker %d, lock %d: %v", g, i, err)
					return
				}
				counter++
				if i%8 == 0 {
					runtime.Gosched() // hold it a while, so that the others park
				}
				mu.Lock()
				taken++
				mu.Unlock()
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	if counter != taken {
		t.Fatalf("counter %d, %d locks taken: the Mutex let two in", counter, taken)
	}
	if s := semaphore.MutexSleepers(m); s != 0 {
		t.Fatalf("%d sleepers left counted after every locker returned", s)
	}
}

// TestEventPingPongHammer: two goroutines hand a turn back and forth
// through two Events, each waiter clearing its Event before setting the
// other's, so that every Set lands somewhere between the waiter's probe,
// its count and its park. A Set lost there hangs the exchange, which a
// deadline on each wait (not on the whole run, whose length depends on the
// machine's load) turns into a failure.
func TestEventPingPongHammer(t *testing.T) {
	a, _ := semaphore.InitEvent(make([]byte, semaphore.EventSize))
	b, _ := semaphore.InitEvent(make([]byte, semaphore.EventSize))
	patience := shmtest.Timeout(t, 10*time.Second) // one wait: a lost Set waits for ever
	wait := func(e *semaphore.Event) bool {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		return e.WaitContext(ctx)
	}
	rounds := shmtest.Iterations(t, 20000)
	done := make(chan int, 1)
	go func() {
		for i := 0; i < rounds; i++ {
			if !wait(a) {
				done <- i
				return
			}
			a.Clear()
			b.Set()
		}
		done <- rounds
	}()
	for i := 0; i < rounds; i++ {
		a.Set()
		if !wait(b) {
			t.Fatalf("round %d: the reply never came in %v (a lost Set)", i, patience)
		}
		b.Clear()
	}
	if got := <-done; got != rounds {
		t.Fatalf("the peer stopped at round %d of %d", got, rounds)
	}
	if s := semaphore.EventSleepers(a) + semaphore.EventSleepers(b); s != 0 {
		t.Fatalf("%d sleepers left counted", s)
	}
}

// cancelWorker locks M Iters times, every other time with a context that
// ends after 0-63 µs; it adds each lock it got to a plain counter (flag 0)
// and to an atomic one (flag 3).
var cancelWorker = process.Register("sem-mutex-cancel", func(ctx context.Context, a counterArgs) error {
	c, taken := a.F.u64(0), a.F.u64(3)
	a.F.u32(1).Add(1)
	if err := a.F.awaitChild(ctx, 2, 1); err != nil { // start together
		return err
	}
	for i := 0; i < a.Iters; i++ {
		lctx, cancel := ctx, context.CancelFunc(func() {})
		if i%2 == 1 {
			lctx, cancel = context.WithTimeout(ctx, time.Duration(i%64)*time.Microsecond)
		}
		err := a.M.LockContext(lctx)
		cancel()
		if err != nil {
			if i%2 == 1 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue
			}
			return err
		}
		c.Store(c.Load() + 1) // deliberately not atomic: only the lock makes it exact
		taken.Add(1)
		if i%8 == 0 {
			runtime.Gosched()
		}
		a.M.Unlock()
	}
	return nil
})

// TestMutexCancelHammerProcesses is TestMutexCancelHammer across
// processes, where each process's waiter sleeps in the kernel on its own
// and an Unlock's wake reaches one process: every worker finishes before
// the deadline, the counter is exact and the sleepers count back to 0.
func TestMutexCancelHammerProcesses(t *testing.T) {
	f := runMutexWorkers(t, cancelWorker, 3, shmtest.Iterations(t, 20000))
	if got, want := f.u64(0).Load(), f.u64(3).Load(); got != want {
		t.Fatalf("counter %d, %d locks taken: the Mutex let two processes in", got, want)
	}
}

// TestMutexUnlockRacesUnmap: between Unlock's releasing CAS and its wake
// of a sleeper (here, a process parked on the lock), another goroutine
// takes the lock, unlocks it and unmaps the lock's memory, which it may
// (as it may free a sync.Mutex it has unlocked: nobody holds the lock).
// The unlocking goroutine's wake then finds the word unmapped; that must
// not panic.
func TestMutexUnlockRacesUnmap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	if err := m.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := holdWorker.Start(ctx, counterArgs{M: m, F: f}) // parks: the test holds m
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Kill()
	state, _ := semaphore.MutexWords(m)
	for state.Load()&semaphore.MWaiters == 0 { // until the child has parked
		if ctx.Err() != nil {
			t.Fatal("the child never parked")
		}
		runtime.Gosched()
	}
	var beaten atomic.Bool // the child's liveness poll took the lock in the gap first
	semaphore.SetReleasedHook(t, func() {
		if ok, err := m.TryLock(); !ok || err != nil {
			beaten.Store(true)
			return
		}
		m.Unlock() // nobody else counted as waiting on this side: the fast path
		if err := seg.Close(); err != nil {
			t.Error(err)
		}
	})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		m.Unlock()
	}()
	if r := <-panicked; r != nil {
		t.Fatalf("Unlock panicked when its lock's memory was unmapped after the release: %v", r)
	}
	if beaten.Load() {
		t.Skip("the parked child woke at its poll and took the lock in the gap: nothing unmapped")
	}
}

// TestEventSetRacesUnmap: Set's Swap publishes the flag, and a goroutine
// of the same process that sees it may finish with the Event and unmap its
// memory before Set makes its wake, as TestMutexUnlockRacesUnmap does for
// Unlock (docs/semaphore.md: "A wake comes after the release"). Set must
// touch nothing of the shared memory after its Swap but the futex wake,
// whose EFAULT it ignores: a load there faults on the unmapped page, which
// kills the process (here, with SetPanicOnFault, a panic).
func TestEventSetRacesUnmap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	e, err := semaphore.CreateEvent(seg, "e")
	if err != nil {
		t.Fatal(err)
	}
	semaphore.SetEventSetHook(t, func() {
		if !e.IsSet() {
			t.Error("the hook ran before the flag was set")
		}
		if err := seg.Close(); err != nil { // what a waiter that saw the flag may do
			t.Error(err)
		}
	})
	panicked := make(chan any, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() { panicked <- recover() }()
		e.Set()
	}()
	if r := <-panicked; r != nil {
		t.Fatalf("Set faulted when the Event's memory was unmapped after its Swap: %v", r)
	}
}

// TestSemaphoreReleaseRacesUnmap: Release's CAS publishes the units, and a
// goroutine of the same process that takes them may finish with the
// Semaphore and unmap its memory before Release makes its wake, as
// TestEventSetRacesUnmap does for Event.Set. Release must touch nothing of
// the shared memory after its CAS but the futex wake, whose EFAULT it
// ignores.
func TestSemaphoreReleaseRacesUnmap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	s, err := semaphore.CreateSemaphore(seg, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	semaphore.SetSemaphoreReleaseHook(t, func() {
		if !s.TryAcquire(1) {
			t.Error("the hook ran before the unit was given")
		}
		if err := seg.Close(); err != nil { // what a goroutine that took the unit may do
			t.Error(err)
		}
	})
	panicked := make(chan any, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() { panicked <- recover() }()
		if err := s.Release(1); err != nil {
			t.Error(err)
		}
	}()
	if r := <-panicked; r != nil {
		t.Fatalf("Release faulted when the Semaphore's memory was unmapped after its CAS: %v", r)
	}
}

// TestSemaphoreSleepingMark: a waiter parked on a bounded Semaphore marks
// its value word (bit 31), and nothing a user sees counts that mark as
// units: Value, TryAcquire and Release's bound check read the units only,
// and the Release that hands the waiter its unit clears the mark.
func TestSemaphoreSleepingMark(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	s, err := semaphore.CreateBoundedSemaphore(seg, "s", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	if err := s.AcquireContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.AcquireContext(ctx, 1) }()
	for semaphore.SemaphoreSleepers(s) == 0 { // until the waiter has marked the word and parks
		if ctx.Err() != nil {
			t.Fatal("the waiter never parked")
		}
		runtime.Gosched()
	}
	if v := s.Value(); v != 0 {
		t.Errorf("Value %d with a waiter parked, want 0", v)
	}
	if s.TryAcquire(1) {
		t.Error("TryAcquire took a unit that is not there")
	}
	if err := s.Release(1); err != nil {
		t.Fatalf("Release with a waiter parked: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Release(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(1); !errors.Is(err, semaphore.ErrOverRelease) {
		t.Fatalf("Release past the bound: %v, want ErrOverRelease", err)
	}
	if v := s.Value(); v != 1 {
		t.Errorf("Value %d, want 1", v)
	}
}

// TestRWMutexRUnlockRacesUnmap: RUnlock's Add gives the read hold back,
// and a goroutine of the same process that then takes the write lock may
// finish with the RWMutex and unmap its memory before RUnlock's next
// instruction, as TestSemaphoreReleaseRacesUnmap does for Release. RUnlock
// must touch nothing of the shared memory after its Add but a futex wake,
// whose EFAULT it ignores.
func TestRWMutexRUnlockRacesUnmap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	if err := rw.RLockContext(ctx); err != nil {
		t.Fatal(err)
	}
	semaphore.SetRWLeaveHook(t, func() {
		if err := rw.LockContext(ctx); err != nil { // the readers are gone: at once
			t.Error(err)
			return
		}
		rw.Unlock()
		if err := seg.Close(); err != nil { // what a writer that saw the readers gone may do
			t.Error(err)
		}
	})
	panicked := make(chan any, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() { panicked <- recover() }()
		rw.RUnlock()
	}()
	if r := <-panicked; r != nil {
		t.Fatalf("RUnlock faulted when the RWMutex's memory was unmapped after its Add: %v", r)
	}
}

// rwReadOnce takes a read hold of RW and gives it back: a reader that
// parks behind the writer of the test's process.
var rwReadOnce = process.Register("sem-rw-read-once", func(ctx context.Context, a rwArgs) error {
	if err := a.RW.RLockContext(ctx); err != nil {
		return err
	}
	a.RW.RUnlock()
	return nil
})

// TestRWMutexUnlockRacesUnmap: Unlock's atomic that lets readers in
// publishes the writer's work, and a goroutine of the same process that
// then takes a read hold, gives it back and unmaps the RWMutex's memory
// may do so before Unlock's next instruction, as
// TestRWMutexRUnlockRacesUnmap does for RUnlock. Unlock must touch
// nothing of the shared memory after that atomic but the futex wake of
// parked readers, whose EFAULT it ignores: with no reader parked, and
// with a reader of another process parked on the writer, which must still
// get its hold (at its poll: the wake went nowhere).
func TestRWMutexUnlockRacesUnmap(t *testing.T) {
	t.Run("alone", func(t *testing.T) { rwReleaseRacesUnmap(t, false, false) })
	t.Run("reader-parked", func(t *testing.T) { rwReleaseRacesUnmap(t, false, true) })
}

// TestRWMutexAbandonRacesUnmap: a writer whose context ends while it
// waits for readers gives the lock up, and its release lets readers in as
// Unlock's does: after it, the same holds (TestRWMutexUnlockRacesUnmap).
// The wake of the parked readers went through atomics.Wake, which panics
// on EFAULT.
func TestRWMutexAbandonRacesUnmap(t *testing.T) {
	t.Run("alone", func(t *testing.T) { rwReleaseRacesUnmap(t, true, false) })
	t.Run("reader-parked", func(t *testing.T) { rwReleaseRacesUnmap(t, true, true) })
}

// rwReleaseRacesUnmap releases a write lock, by Unlock or by a writer that
// gives up (abandon: the test's read hold keeps it waiting until its
// context ends), with a reader of another process parked on it if parked,
// and unmaps the RWMutex in the gap after the release.
func rwReleaseRacesUnmap(t *testing.T, abandon, parked bool) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	wstate := semaphore.RWWState(rw)
	panicked := make(chan any, 1)
	var release func() // makes the writer release
	if abandon {
		if err := rw.RLockContext(ctx); err != nil { // the writer waits for it
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			debug.SetPanicOnFault(true)
			defer func() { panicked <- recover() }()
			if err := rw.LockContext(wctx); !errors.Is(err, context.Canceled) {
				t.Errorf("a writer whose context ended while a reader held on: %v", err)
			}
		}()
		until(t, "the writer announces itself", func() bool { return wstate.Load()&semaphore.RWWriter != 0 })
		release = cancel
	} else {
		if err := rw.LockContext(ctx); err != nil {
			t.Fatal(err)
		}
		release = func() {
			go func() {
				debug.SetPanicOnFault(true)
				defer func() { panicked <- recover() }()
				rw.Unlock()
			}()
		}
	}
	var p *process.Process
	if parked {
		if p, err = rwReadOnce.Start(ctx, rwArgs{RW: rw, F: f}); err != nil {
			t.Fatal(err)
		}
		defer p.Wait()
		defer p.Kill()
		until(t, "the reader parks behind the writer", func() bool { return wstate.Load()&semaphore.RWSleeping != 0 })
	}
	semaphore.SetRWWriterReleasedHook(t, func() {
		if !rw.TryRLock() {
			t.Error("the hook ran before readers were let in")
			return
		}
		rw.RUnlock()
		if err := seg.Close(); err != nil { // what a reader that saw the writer gone may do
			t.Error(err)
		}
	})
	release()
	if r := <-panicked; r != nil {
		t.Fatalf("the writer's release faulted when the RWMutex's memory was unmapped after it let readers in: %s", faulted(r))
	}
	if p != nil {
		if err := p.Wait(); err != nil {
			t.Fatalf("the reader parked behind the writer: %v", err)
		}
	}
}

// faulted describes what a goroutine with SetPanicOnFault recovered: the
// faulting address too, for a fault.
func faulted(r any) string {
	if f, ok := r.(interface{ Addr() uintptr }); ok {
		return fmt.Sprintf("%v (a fault at %#x)", r, f.Addr())
	}
	return fmt.Sprint(r)
}

// condWaitOnce waits once on C, under its L, having said in word 0 that
// it holds L.
var condWaitOnce = process.Register("sem-cond-wait-once", func(ctx context.Context, a condArgs) error {
	if err := a.C.L.LockContext(ctx); err != nil {
		return err
	}
	a.F.signal(0, 1)
	if err := a.C.WaitContext(ctx); err != nil {
		return err
	}
	a.C.L.Unlock()
	return nil
})

// TestCondNotifyRacesUnmap: Notify's and Broadcast's atomic moves the
// sequence, and a waiter of the same process that sees it move may return
// from Wait (the notifier need not hold L), finish with the Cond and unmap
// its memory before the notifier's next instruction, as
// TestEventSetRacesUnmap does for Set. They must touch nothing of the
// shared memory after that atomic but the futex wake, whose EFAULT they
// ignore: with no waiter parked, and with a waiter of another process
// parked, which must still return from Wait (at the end of its sleep
// slice: the wake went nowhere).
func TestCondNotifyRacesUnmap(t *testing.T) {
	for _, tc := range []struct {
		name              string
		broadcast, parked bool
	}{
		{"signal", false, false},
		{"signal-waiter-parked", false, true},
		{"broadcast", true, false},
		{"broadcast-waiter-parked", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) { condNotifyRacesUnmap(t, tc.broadcast, tc.parked) })
	}
}

func condNotifyRacesUnmap(t *testing.T, broadcast, parked bool) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := semaphore.CreateCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	var p *process.Process
	if parked {
		if p, err = condWaitOnce.Start(ctx, condArgs{C: c, F: f}); err != nil {
			t.Fatal(err)
		}
		defer p.Wait()
		defer p.Kill()
		f.await(t, 0, 1, 10*time.Second)
		until(t, "the waiter parks", func() bool { return semaphore.CondSleepers(c) != 0 })
	}
	seq := semaphore.CondSeq(c)
	s := seq.Load()
	semaphore.SetCondNotifyHook(t, func() {
		if seq.Load() == s {
			t.Error("the hook ran before the sequence moved")
			return
		}
		if err := seg.Close(); err != nil { // what a waiter that saw it move may do
			t.Error(err)
		}
	})
	panicked := make(chan any, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() { panicked <- recover() }()
		if broadcast {
			c.Broadcast()
		} else {
			c.Signal()
		}
	}()
	if r := <-panicked; r != nil {
		t.Fatalf("the notification faulted when the Cond's memory was unmapped after its atomic: %v", r)
	}
	if p != nil {
		if err := p.Wait(); err != nil {
			t.Fatalf("the waiter parked on the Cond: %v", err)
		}
	}
}

// TestCondSleepingMark: waiters of two processes parked on a Cond have
// marked its sequence word (bit 31). A Signal that finds them counted
// keeps the mark, so that the waiter it did not wake is woken by the next
// one; once none is counted, the next Signal clears it. Both waiters
// return from Wait, and the sequence moves by one per notification.
func TestCondSleepingMark(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := semaphore.CreateCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	seq := semaphore.CondSeq(c)
	s := seq.Load()
	var ps []*process.Process
	for i := 0; i < 2; i++ {
		f := newFlags(t, seg, fmt.Sprintf("flags%d", i))
		p, err := condWaitOnce.Start(ctx, condArgs{C: c, F: f})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Kill()
		ps = append(ps, p)
		f.await(t, 0, 1, 10*time.Second)
	}
	until(t, "both waiters count themselves and mark the word", func() bool {
		return semaphore.CondSleepers(c) == 2 && seq.Load()&semaphore.CondSleeping != 0
	})
	c.Signal()
	if v := seq.Load(); v&semaphore.CondSleeping == 0 {
		t.Errorf("the Signal that found waiters counted cleared the mark (word %#x)", v)
	}
	c.Signal()
	waitAll(t, ps)
	c.Signal()
	if v := seq.Load(); v != s+3 {
		t.Errorf("word %#x after three Signals with no waiter left, want %#x: the sequence moved by three, unmarked", v, s+3)
	}
}
