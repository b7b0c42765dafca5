package ringbuf

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/goid"
	"github.com/shmkit/shmkit/internal/membarrier"
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
//	          them), so Unlock swaps the word and wakes the sleepers, and
//	          waiters sleep (on free, a channel Unlock closes)
//
// A handle that several goroutines use pays sync.Mutex's price (a swap
// in Unlock) from the first contention on; one used by one goroutine never
// does. In a race build Unlock always swaps, so that the detector sees the
// release.
//
// # Biased to one goroutine
//
// Even the one CAS waits for the stores before it to drain: in a stream,
// the last message's, to lines the other process's core holds. So the
// lock is biased (Dice, Moir and Scherer's quickly reacquirable locks,
// with the revoker's fence from membarrier(2)): the first goroutine to
// take it twice in a row (see settleBias), in a process registered for
// membarrier's global expedited command, becomes its owner, and takes
// and releases it with plain stores to held, a word only the owner
// writes, for as long as no other goroutine takes it:
//
//	owner Lock:   held = heldTrying; look at owner; held = heldOwned
//	owner Unlock: held = 0
//	other Lock:   take state (the CAS lock); owner = biasRevoked;
//	              membarrier.Fence(); wait until held is 0
//
// Dekker's handshake, made asymmetric: either the owner's look after its
// store sees the revocation (it then stores 0 and takes state like
// anyone), or the revoker's look after the fence sees the owner's store
// and waits for its Unlock. Every way into state revokes a live bias
// before its holder goes on, so the two locks are never held at once,
// and after the revocation only state is used. heldTrying and heldOwned
// are apart so that an Unlock that finds heldOwned knows the lock is held
// through the bias (and releases it whichever goroutine calls it, as
// sync.Mutex allows), while the owner's tentative store, which it takes
// back when it sees the revocation, is never mistaken for a hold.
//
// A goroutine is told apart by goid.G, its runtime descriptor, which a
// goroutine started after the owner ended may inherit: it is then the
// owner, which is harmless, since only one goroutine runs with a given
// descriptor at a time. The bias is revoked at most once per handle (a
// fence: microseconds), and never given where goid.G is not wired up, in
// a race build, or in a process that membarrier(2) did not register.
//
// BenchmarkStream64/queue/default (one producer process, one consumer,
// Put and Get each): see the queue's doc for the figures.
//
// # Behind a call that waits
//
// A blocking call holds the lock of its side while it waits for the ring
// (a Get on an empty ring, a Put or Write on a full one). Another
// goroutine's call takes the lock with LockCall, which, once it finds the
// holder waiting (holderWaits), gives up where that call would: a
// blocking call when its context ends, a Try call (ctx noWait or tryNow)
// at once, reporting nothing now. (Mostly the Try call's own answer:
// the holder waits because the ring has nothing for that side. Not
// always: an MPSC Write waits for room for its own record, which may be
// larger, a waiter looks at the ring only every few microseconds, and an
// MPMC Get that keeps its distance from a stream waits up to 5 µs with
// messages queued (see keepBehind). The Try calls' docs say so.) With
// Lock alone both waited as long as the holder did
// (TestWaitingCallGivesUpBehindAnother). Behind a holder that runs, every
// call waits for it, its context done or not.
type handleLock struct {
	state   atomic.Uint32  // 0 free, 1 held: Lock's CAS, Unlock's store or swap
	mode    atomic.Uint32  // hlOne -> hlMet -> hlShared; only grows
	waiters atomic.Int32   // goroutines asleep or about to sleep on free (hlShared)
	owner   atomic.Uintptr // the goroutine (goid.G) the lock is biased to; 0 none yet, or biasRevoked
	held    atomic.Uint32  // 0, heldTrying or heldOwned: written by the owner only (and by an Unlock of its hold)
	cand    uintptr        // the last holder of state (goid.G) while there is no owner: read and written under state
	waiting atomic.Uint32  // 1 while the holder waits for its ring (see holderWaits)
	mu      sync.Mutex     // guards free
	free    chan struct{}  // closed by the next wake of waiters (Unlock, holderWaits); made by a waiter
}

const (
	heldTrying = 1 // the owner stored it and is looking for a revocation
	heldOwned  = 2 // the owner holds the lock through the bias

	biasRevoked = 1 // owner: no goroutine is (nor will be) biased to; no g lives at 1
)

const (
	hlOne = iota
	hlMet
	hlShared

	hlPollMax = time.Millisecond // longest sleep of a goroutine polling in hlMet
)

// Lock takes l, waiting as long as it takes.
func (l *handleLock) Lock() { _ = l.LockCall(context.Background()) }

// LockCall takes l for a call of the ring under ctx, or gives up and
// returns what the call returns (see the type's doc): ctx's error once
// ctx ends, or errWouldBlock for a Try call (ctx noWait or tryNow) that
// finds the holder waiting for the ring. Under a ctx that never ends
// (context.Background, as Lock's) it waits as long as it takes.
func (l *handleLock) LockCall(ctx context.Context) error {
	if o := l.owner.Load(); o > biasRevoked && o == goid.G() && l.lockBiased(o) {
		return nil
	}
	if !l.state.CompareAndSwap(0, 1) { // free -> held
		if err := l.lockSlow(ctx); err != nil {
			return err
		}
	}
	if l.owner.Load() != biasRevoked || l.held.Load() != 0 {
		return l.settleBias(ctx)
	}
	return nil
}

// giveUp reports why a LockCall under ctx stops waiting for l now, or nil.
// Only a holder that waits for the ring is given up on: one that runs
// lets go soon, and a call whose context is done does what it can without
// waiting, as it did before the lock honoured contexts (a Put with a
// done context into a ring with room goes in: TestDoneContextCallsBesideOthers).
func (l *handleLock) giveUp(ctx context.Context) error {
	if l.waiting.Load() == 0 { // observes: the holder's holderWaits (see wakeWaiters)
		return nil
	}
	if ctx == noWait || ctx == tryNow {
		return errWouldBlock
	}
	return ctx.Err()
}

// holderWaits tells the goroutines waiting for l that its holder waits
// for the ring (on) or no longer does: a Try call behind it gives up. It
// costs the holder a swap per wait (the Dekker handshake with a sleeper's
// count), not per message.
func (l *handleLock) holderWaits(on bool) {
	if !on {
		atomics.StoreRelease32(&l.waiting, 0)
		return
	}
	l.waiting.Store(1)
	if l.waiters.Load() != 0 { // observes: a sleeper counted before its look at waiting
		l.wakeWaiters()
	}
}

// wakeWaiters wakes every goroutine asleep in lockSlow: they look again.
func (l *handleLock) wakeWaiters() {
	l.mu.Lock()
	if l.free != nil {
		close(l.free)
		l.free = nil
	}
	l.mu.Unlock()
}

// lockBiased is the owner's Lock: plain stores, and a look for a
// revocation between them (see the type's doc). It reports false, having
// taken its store back, when the bias is revoked.
func (l *handleLock) lockBiased(o uintptr) bool {
	if l.held.Load() != 0 || l.state.Load() != 0 {
		// Held through the bias already (a Reserve's hold), or through
		// state: by this goroutine, which made itself the owner under
		// it, or by a revoker. Wait on state, which revokes.
		return false
	}
	atomics.StoreRelease32(&l.held, heldTrying)
	if l.owner.Load() == o { // observes: a revocation (the revoker fences after its store)
		atomics.StoreRelease32(&l.held, heldOwned)
		return true
	}
	atomics.StoreRelease32(&l.held, 0) // revoked: take state like anyone
	return false
}

// TryLock takes l if it is free and reports whether it did. Called by a
// goroutine other than the owner, it revokes the bias, and reports false
// when the owner holds the lock.
func (l *handleLock) TryLock() bool {
	if o := l.owner.Load(); o > biasRevoked && o == goid.G() {
		return l.lockBiased(o)
	}
	if !l.state.CompareAndSwap(0, 1) { // free -> held
		return false
	}
	if (l.owner.Load() != biasRevoked || l.held.Load() != 0) && l.revoke(context.Background(), false) != nil {
		l.unlockState() // the owner holds it
		return false
	}
	return true
}

// settleBias runs once a goroutine has taken state while the lock is not
// revoked yet, or while a hold taken through the bias before its
// revocation lasts. Before the lock has an owner, a holder that also held
// it last makes itself the owner (if a fence can revoke it later), and any
// other becomes that candidate: a handle set up by one goroutine (one
// AttachProducer) and then used by another is biased to the user, where
// making its first holder the owner had the user revoke the bias at its
// first Lock, for good (BenchmarkProducers/mpsc, which attaches its
// handles before the producers start, paid a CAS a message). Once there is
// an owner, any other holder revokes the bias and waits for its hold to
// end.
//
// A LockCall under ctx that gives up on the owner's hold releases state
// and returns why (see giveUp); the bias stays revoked.
func (l *handleLock) settleBias(ctx context.Context) error {
	if l.owner.Load() == 0 {
		switch g := goid.G(); {
		case raceEnabled || !goid.HasG || membarrier.Refused():
			l.owner.Store(biasRevoked) // never biased: no more looks here
		case !membarrier.Registered(): // (its first call starts the registration)
		case l.cand != g:
			l.cand = g // a candidate: the bias waits for its next Lock
		default:
			l.owner.Store(g) // under state: the next Lock of this goroutine takes the bias
		}
		return nil
	}
	if err := l.revoke(ctx, true); err != nil {
		l.unlockState()
		return err
	}
	return nil
}

// revoke, for a goroutine holding state, ends the bias for good: it
// stores the revocation and fences (unless a holder before it did), and
// then waits until the owner holds nothing (wait), or returns
// errWouldBlock at once if it does (!wait). A TryLock that gives up so
// leaves the owner's hold to outlast the revocation: the holders of state
// after it wait for its end here too. The owner itself comes here only
// when it found its own hold (a reservation, to be released by an Unlock
// that may come from another goroutine), and waits for it as anyone
// would. A wait under ctx ends with giveUp's reason, still holding state.
func (l *handleLock) revoke(ctx context.Context, wait bool) error {
	if l.owner.Load() != biasRevoked {
		l.owner.Store(biasRevoked)
		membarrier.FenceOrWait() // the owner's process is this one, registered: the fence runs
	}
	for i := 0; ; i++ {
		if l.held.Load() == 0 { // observes: the owner's hold, made visible by the fence
			return nil
		}
		if !wait {
			return errWouldBlock
		}
		if err := l.giveUp(ctx); err != nil {
			return err
		}
		pollPause(i)
	}
}

// pollPause is the i-th pause of a goroutine polling l: a Gosched at
// first, then sleeps growing to hlPollMax.
func pollPause(i int) {
	if i < 64 {
		runtime.Gosched()
	} else {
		time.Sleep(min(time.Duration(i-63)*time.Microsecond, hlPollMax))
	}
}

func (l *handleLock) lockSlow(ctx context.Context) error {
	l.mode.CompareAndSwap(hlOne, hlMet) // a goroutine waits: see the modes
	for i := 0; ; i++ {
		if l.state.CompareAndSwap(0, 1) { // free -> held
			if l.mode.Load() == hlMet {
				l.mode.Store(hlShared) // under the lock: every later holder sees it
			}
			return nil
		}
		if err := l.giveUp(ctx); err != nil {
			return err
		}
		if l.mode.Load() != hlShared {
			// The holder may release with a plain store: poll.
			pollPause(i)
			continue
		}
		// Woken by an Unlock, by a holder that starts to wait (for a Try
		// call, and for a call whose ctx is done), or by the end of ctx:
		// a Try call's ctx is done already, and a ctx that ended while the
		// holder ran wakes nobody again.
		var done <-chan struct{}
		if ctx != noWait && ctx != tryNow && ctx.Err() == nil {
			done = ctx.Done()
		}
		l.waiters.Add(1) // announce, then look: Unlock swaps, then looks at waiters
		l.mu.Lock()
		if l.free == nil {
			l.free = make(chan struct{})
		}
		free := l.free
		l.mu.Unlock()
		if l.state.Load() != 0 && l.giveUp(ctx) == nil {
			select {
			case <-free:
			case <-done:
			}
		}
		l.waiters.Add(-1)
	}
}

// Unlock releases l. It panics if l is not held.
func (l *handleLock) Unlock() {
	if l.held.Load() == heldOwned { // held through the bias: nobody holds state
		atomics.StoreRelease32(&l.held, 0)
		return
	}
	l.unlockState()
}

// unlockState releases state.
func (l *handleLock) unlockState() {
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
	if l.waiters.Load() != 0 { // observes: a sleeper counted before its look at state
		l.wakeWaiters()
	}
}
