package ringbuf

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
)

// handleLock serialises the goroutines of one process that write (or
// read) through one ring handle: an MPSC producer handle, an MPMC
// handle's put or get side. It is process-local, never in shared memory.
//
// A handle is mostly used by one goroutine, and then sync.Mutex costs two
// locked instructions a message, each waiting for the stores before it to
// drain (a profile of one MPSC producer: 39% in sync.Mutex.Unlock). Here
// Lock is a CAS, and Unlock a plain store (release order) for as long as
// no goroutine has had to wait: one locked instruction a message
// (BenchmarkHandleLock, Lock + a store + Unlock in one goroutine, six
// runs on a loaded 2-core machine: median 22 ns against 30 ns for
// sync.Mutex in the same runs, minimum 15.3 against 17.9).
//
// A plain store cannot wake a sleeper (the unlocker would need a fence
// between its store and its look at the sleepers, or it may miss one that
// the sleeper's look at the lock missed too: Dekker). So the lock word
// keeps a mode that only grows:
//
//	hlOne     nobody has waited: Unlock stores 0, nobody sleeps
//	hlMet     a goroutine found the lock held: it polls (Gosched, then
//	          sleeps of up to hlPollMax), never sleeps unwoken, since
//	          the holder may not see the mode change and store 0 plainly
//	hlShared  set by a goroutine that took the lock in hlMet: every later
//	          holder took the lock after it and sees it (the lock orders
//	          them), so Unlock swaps the word and wakes a sleeper, and
//	          waiters sleep on cond
//
// A handle that several goroutines use pays sync.Mutex's price (a swap
// in Unlock) from the first contention on; one used by one goroutine never
// does. In a race build Unlock always swaps, so that the detector sees the
// release.
type handleLock struct {
	state   atomic.Uint32 // 0 free, 1 held: Lock's CAS, Unlock's store or swap
	mode    atomic.Uint32 // hlOne -> hlMet -> hlShared; only grows
	waiters atomic.Int32  // goroutines asleep or about to sleep on cond (hlShared)
	mu      sync.Mutex    // guards the sleep on cond
	cond    sync.Cond     // L is mu, set on first use under mu
}

const (
	hlOne = iota
	hlMet
	hlShared

	hlPollMax = time.Millisecond // longest sleep of a goroutine polling in hlMet
)

// Lock takes l, waiting as long as it takes.
func (l *handleLock) Lock() {
	if l.state.CompareAndSwap(0, 1) { // free -> held
		return
	}
	l.lockSlow()
}

// TryLock takes l if it is free and reports whether it did.
func (l *handleLock) TryLock() bool { return l.state.CompareAndSwap(0, 1) } // free -> held

func (l *handleLock) lockSlow() {
	l.mode.CompareAndSwap(hlOne, hlMet) // a goroutine waits: see the modes
	for i := 0; ; i++ {
		if l.state.CompareAndSwap(0, 1) { // free -> held
			if l.mode.Load() == hlMet {
				l.mode.Store(hlShared) // under the lock: every later holder sees it
			}
			return
		}
		if l.mode.Load() != hlShared {
			// The holder may release with a plain store: poll.
			if i < 64 {
				runtime.Gosched()
			} else {
				time.Sleep(min(time.Duration(i-63)*time.Microsecond, hlPollMax))
			}
			continue
		}
		l.mu.Lock()
		if l.cond.L == nil {
			l.cond.L = &l.mu
		}
		l.waiters.Add(1) // announce, then look: Unlock swaps, then looks at waiters
		if l.state.Load() != 0 {
			l.cond.Wait()
		}
		l.waiters.Add(-1)
		l.mu.Unlock()
	}
}

// Unlock releases l. It panics if l is not held.
func (l *handleLock) Unlock() {
	if !raceEnabled && l.mode.Load() != hlShared {
		if l.state.Load() == 0 {
			panic("ringbuf: unlock of an unlocked handle lock")
		}
		atomics.StoreRelease32(&l.state, 0) // held -> free; nobody sleeps in this mode
		return
	}
	if l.state.Swap(0) == 0 { // held -> free
		panic("ringbuf: unlock of an unlocked handle lock")
	}
	if l.waiters.Load() != 0 {
		l.mu.Lock()
		l.cond.Signal()
		l.mu.Unlock()
	}
}
