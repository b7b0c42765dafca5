package semaphore_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// TestMutexWantDefers: a free Mutex whose want word names a live process
// is left to that process's starving waiter: TryLock does not take it. A
// blocking Lock waits for that waiter a bounded time only (nobody takes
// the lock here), then clears the word and takes the lock. A want word
// that names a dead process is cleared at once.
func TestMutexWantDefers(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	want := semaphore.MutexWant(m)
	me := procinfo.Self()

	want.Store(me.Word()) // a live process (this one) starves
	if ok, err := m.TryLock(); ok || err != nil {
		t.Fatalf("TryLock of a free Mutex owed to a starving waiter: %v, %v; want false", ok, err)
	}
	if err := m.LockContext(ctxFor(t, shmtest.Timeout(t, 10*time.Second))); err != nil {
		t.Fatalf("Lock beside a want word nobody acts on: %v", err)
	}
	if w := want.Load(); w != 0 {
		t.Fatalf("want word %#x after a Lock that found it stale, want 0", w)
	}
	m.Unlock()

	dead := procinfo.Ident{Pid: int32(deadPid(t)), Start: 12345, NS: me.NS}
	want.Store(dead.Word())
	if ok, err := m.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock of a free Mutex owed to a dead waiter: %v, %v; want true", ok, err)
	}
	if w := want.Load(); w != 0 {
		t.Fatalf("want word %#x of a dead process after TryLock, want 0", w)
	}
	m.Unlock()
}

// TestMutexStarvingWaiterAsks: a waiter kept waiting past the starvation
// bound names its process in the want word, names it again when a locker
// cleared it, and clears it once it has the lock.
func TestMutexStarvingWaiterAsks(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	want := semaphore.MutexWant(m)
	ctx := ctxFor(t, shmtest.Timeout(t, 10*time.Second))
	m.Lock()
	got := make(chan error, 1)
	go func() {
		err := m.LockContext(ctx)
		if err == nil {
			m.Unlock()
		}
		got <- err
	}()
	for want.Load() == 0 { // the waiter asks within a liveness poll of its first millisecond
		if ctx.Err() != nil {
			t.Fatal("the waiter never named its process in the want word")
		}
		runtime.Gosched()
	}
	if w, self := want.Load(), procinfo.Self().Word(); w != self {
		t.Fatalf("want word %#x, want this process's %#x", w, self)
	}
	// A locker that finds the word stale clears it: the waiter, still
	// starving, asks again.
	want.Store(0)
	for want.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the starving waiter did not ask again after its want word was cleared")
		}
		runtime.Gosched()
	}
	m.Unlock()
	if err := <-got; err != nil {
		t.Fatalf("the starving waiter: %v", err)
	}
	if w := want.Load(); w != 0 {
		t.Fatalf("want word %#x after the starving waiter had the lock, want 0", w)
	}
}

// TestMutexStarvationProcesses: a child locks and unlocks in a tight loop
// (the lock is free only between its Unlock and its next Lock) while this
// process takes the lock over and over: every one of its waits ends with
// the lock, and the want word is clear at the end.
func TestMutexStarvationProcesses(t *testing.T) {
	m, f := sharedMutex(t)
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	p, err := spinLockWorker.Start(ctx, counterArgs{M: m, F: f})
	if err != nil {
		t.Fatal(err)
	}
	f.await(t, 1, 1, 20*time.Second) // the child's loop runs
	for i := range shmtest.Iterations(t, 200) {
		if err := m.LockContext(ctx); err != nil {
			t.Fatalf("lock %d beside a child that re-locks at once: %v", i, err)
		}
		m.Unlock()
	}
	f.signal(2, 1)
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := f.u64(0).Load(); n == 0 {
		t.Fatal("the child never took the lock")
	}
	if w := semaphore.MutexWant(m).Load(); w != 0 {
		t.Fatalf("want word %#x at the end, want 0", w)
	}
}

// spinLockWorker locks and unlocks M without pause until flag 2 is set,
// counting its turns in u64 0; it sets flag 1 once it runs.
var spinLockWorker = process.Register("sem-mutex-spinlock", func(ctx context.Context, a counterArgs) error {
	c := a.F.u64(0)
	a.F.u32(1).Store(1)
	for a.F.u32(2).Load() == 0 {
		for range 64 {
			if err := a.M.LockContext(ctx); err != nil {
				return err
			}
			c.Store(c.Load() + 1)
			a.M.Unlock()
		}
	}
	return nil
})

// TestMutexReleaseWakesPastAYielder: a locker that leaves the free lock to
// a starving waiter sleeps on the free word. When the lock is taken and
// released meanwhile (by a locker that took it regardless, such as one
// whose own want word a starving waiter of another process replaced, or a
// goroutine of the starving process), the Unlock's single wake reaches
// that locker first, which sleeps on while the want word still names the
// starving process, and the waiter parked behind the holder, perhaps the
// starving one, is not woken: it took the freed lock at its next poll.
// Every release while a waiter starves must wake every sleeper, as a
// locker that finds the lock free does. The yielder's slices and patience
// are an hour here, and the parked waiter is a bare futex wait with no
// timeout, so that the lost wake is a hang, not a delay.
func TestMutexReleaseWakesPastAYielder(t *testing.T) {
	m, state := mutexForRace(t)
	semaphore.SetMutexYield(t, time.Hour, time.Hour)
	want := semaphore.MutexWant(m)
	want.Store(procinfo.Self().Word()) // a waiter of this process starves
	yielded := make(chan struct{})
	go func() {
		m.Lock() // leaves the free lock to the starving waiter, asleep on the free word
		//lint:ignore SA2001 the Lock is what the test watches: it leaves the free lock to the starving waiter
		m.Unlock()
		close(yielded)
	}()
	holder := semaphore.HolderField(uint32(os.Getpid()))
	parked := make(chan error, 1)
	cleanup := func() {
		want.Store(0) // nobody starves: the yielder takes the lock
		// The yielder may be between its look at want and its sleep,
		// where a wake misses it, and its sleep is bounded by its slice,
		// an hour here: wake until it is out (one wake, and it hung in a
		// -race run on a loaded machine).
		for out := false; !out; {
			atomics.Wake(state, -1)
			select {
			case <-yielded:
				out = true
			case <-time.After(time.Millisecond):
			}
		}
		<-parked
	}
	if _, ok := awaitFutexSleep(t, futexWaitFor(state, 0)); !ok {
		parked <- nil
		cleanup()
		return
	}
	// A locker takes the lock, and a waiter parks behind it with WAITERS:
	// it sleeps in the kernel after the yielder.
	state.Store(holder | semaphore.MWaiters)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		parked <- atomics.Wait(state, holder|semaphore.MWaiters, 0)
	}()
	if _, ok := awaitFutexSleep(t, futexWaitFor(state, holder|semaphore.MWaiters)); !ok {
		cleanup()
		return
	}
	m.Unlock() // the holder's release: a CAS (WAITERS), then a wake
	select {
	case err := <-parked:
		parked <- err
	case <-time.After(10 * time.Second): // only so that a hang fails
		t.Error("the waiter parked behind the holder was never woken: the release's wake went to the yielder alone")
	}
	cleanup()
}

// futexWaitFor is how /proc/self/task/*/syscall shows a thread asleep in
// futex(state, FUTEX_WAIT, val).
func futexWaitFor(state *atomic.Uint32, val uint32) string {
	return fmt.Sprintf("202 %#x 0x0 %#x ", uintptr(unsafe.Pointer(state)), val)
}
