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
//
// Bias. Even one CAS a message is a locked instruction that waits for the
// stores before it, the last message's among them, to drain to lines the
// other side's core holds: a queue's Put and Get each spend a quarter of
// their time there, and an MPSC producer a fifth. So the lock is biased
// to the first goroutine that takes it (Kawachiya, Koseki and Onodera's
// lock reservation; the JVM's biased locking), which from then on takes
// and releases it with plain stores to inside, and no locked instruction:
//
//	owner:  inside = 1; if bias still names me: held; else inside = 0, take state
//	other:  bias = biasBarrier (CAS); membarrier; bias = biasDraining;
//	        wait for inside == 0; bias = biasOff; take state
//
// The owner's store and load are Dekker's entry without the fence
// between them, which amd64 needs (a load may pass an earlier store). The
// fence comes from the other side: membarrier(2)'s private expedited
// command runs a full barrier on every thread of this process that is
// running, and a thread switched out passed one. Either the owner's
// barrier came after its store to inside, and the revoker's load of
// inside, after membarrier, sees it; or it came before, and the owner's
// load of bias, after it, sees the revocation (Dice, Moir and Scherer,
// "Quickly reacquirable locks"; the asymmetric fence of userspace RCU).
// A revocation is for good: it costs a goroutine that meets the lock
// biased to another a system call once, and every Lock after it the CAS
// of state. Where membarrier is missing (see membarrierReady), off amd64
// (getg) and in a race build, no lock is biased.
type handleLock struct {
	state   atomic.Uint32 // 0 free, 1 held: Lock's CAS, Unlock's store or swap
	mode    atomic.Uint32 // hlOne -> hlMet -> hlShared; only grows
	waiters atomic.Int32  // goroutines asleep or about to sleep on cond (hlShared)
	mu      sync.Mutex    // guards the sleep on cond
	cond    sync.Cond     // L is mu, set on first use under mu

	// bias is biasNone, the owner's g, then biasBarrier, biasDraining,
	// biasOff, in that order: only the CAS from biasNone (to a g, or
	// biasOff where no lock is biased) and the CAS from a g to
	// biasBarrier decide, and the one that won the latter stores
	// biasDraining; biasDraining -> biasOff is anyone's CAS once inside
	// reads 0. The owner reads it after each store of 1 to inside.
	bias atomic.Uintptr
	// inside is 1 from the owner's store before it looks at bias to its
	// release: written by the owner only, with plain stores; read by
	// the goroutines waiting for a revocation to drain.
	inside atomic.Uint32
	// fast: the holder took the lock on the biased path (Unlock clears
	// inside, not state). Written and read by the holder only.
	fast bool
}

const (
	hlOne = iota
	hlMet
	hlShared

	hlPollMax = time.Millisecond // longest sleep of a goroutine polling in hlMet
)

// The states of handleLock.bias that are not a goroutine's g (a g is the
// address of a runtime record, far above these).
const (
	biasNone     = iota // no goroutine has taken the lock yet
	biasBarrier         // a revoker's membarrier is under way
	biasDraining        // the barrier is done: the owner may still hold on the biased path
	biasOff             // every holder takes state
)

// Lock takes l, waiting as long as it takes.
func (l *handleLock) Lock() {
	if b := l.bias.Load(); b != biasOff {
		if held, _ := l.lockBiased(b, true); held {
			return
		}
	}
	if l.state.CompareAndSwap(0, 1) { // free -> held
		return
	}
	l.lockSlow()
}

// TryLock takes l if it is free and reports whether it did. A goroutine
// that meets l biased to another revokes the bias (see handleLock) and
// fails while the owner still holds it.
func (l *handleLock) TryLock() bool {
	if b := l.bias.Load(); b != biasOff {
		if held, useState := l.lockBiased(b, false); held || !useState {
			return held
		}
	}
	return l.state.CompareAndSwap(0, 1) // free -> held
}

// lockBiased is Lock's and TryLock's way past the bias, b as last loaded:
// held when the owner took l on the biased path; else useState says
// whether the caller may go on to state (the bias is off, or it is the
// owner, which state now excludes from the revoker). wait: wait for a
// revocation to drain (Lock); else report !useState while it has not
// (TryLock).
func (l *handleLock) lockBiased(b uintptr, wait bool) (held, useState bool) {
	g := getg()
	for i := 0; ; i++ {
		switch b {
		case biasNone:
			if raceEnabled || g == 0 || !membarrierReady() {
				l.bias.CompareAndSwap(biasNone, biasOff) // none -> off: no lock here is biased
			} else {
				l.bias.CompareAndSwap(biasNone, g) // none -> biased to me
			}
		case biasOff:
			return false, true
		case biasBarrier, biasDraining:
			if b == biasDraining && l.inside.Load() == 0 {
				l.bias.CompareAndSwap(biasDraining, biasOff) // draining -> off: the owner has left
				break
			}
			if !wait {
				return false, false
			}
			pollBackoff(i)
		case g:
			if l.fast {
				if wait {
					panic("ringbuf: handle lock taken twice by its holder")
				}
				return false, false // TryLock: held, by the caller
			}
			atomics.StoreRelease32(&l.inside, 1) // the owner enters (no fence: see handleLock)
			if l.bias.Load() == g {                // observes: a revocation, after its membarrier
				l.fast = true
				return true, true
			}
			atomics.StoreRelease32(&l.inside, 0) // revoked: the revoker's drain waits for this
			return false, true
		default: // biased to another goroutine: revoke
			if l.bias.CompareAndSwap(b, biasBarrier) { // biased -> barrier under way
				membarrier()
				l.bias.Store(biasDraining) // barrier done -> draining
			}
		}
		b = l.bias.Load()
	}
}

// pollBackoff is the i-th wait of a goroutine that polls: Gosched, then
// sleeps that grow to hlPollMax.
func pollBackoff(i int) {
	if i < 64 {
		runtime.Gosched()
	} else {
		time.Sleep(min(time.Duration(i-63)*time.Microsecond, hlPollMax))
	}
}

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
			pollBackoff(i)
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
	if l.fast {
		l.fast = false
		atomics.StoreRelease32(&l.inside, 0) // releases the biased hold: the critical section's stores come first
		return
	}
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
