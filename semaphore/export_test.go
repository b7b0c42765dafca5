package semaphore

import (
	"sync/atomic"
	"time"
)

// MutexWords exposes a Mutex's lock and owner words to tests that forge a
// dead or reused holder.
func MutexWords(m *Mutex) (state *atomic.Uint32, owner *atomic.Uint64) { return m.state, m.owner }

// MutexWant exposes a Mutex's want word (the starving waiter's process).
func MutexWant(m *Mutex) *atomic.Uint64 { return m.want }

// HolderField returns the holder field a process of this namespace with PID pid
// puts in a Mutex state word.
func HolderField(pid uint32) uint32 { me, _ := self(); return pid&mPidMask | me&^mPidMask }

const (
	MHolderMask = mHolderMask
	MPidMask    = mPidMask
	MOwnerDied  = mOwnerDied
	MWaiters    = mWaiters
)

// EventSleepers reports how many waiters an Event has announced.
func EventSleepers(e *Event) uint32 { return e.sleepers.Load() }

// BarrierLock exposes a Barrier's internal lock to tests that forge a party
// dead inside the barrier's critical section.
func BarrierLock(b *Barrier) *Mutex { return b.lock }

// MutexSleepers reports how many waiters a Mutex counts past their spin.
func MutexSleepers(m *Mutex) uint32 { return m.sleepers.Load() }

// SetReleasedHook makes f run inside Unlock between its releasing CAS and
// its wake (only with a sleeper to wake), until the test ends.
func SetReleasedHook(tb cleaner, f func()) { setForTest(tb, &releasedHook, f) }

// SetEventSetHook makes f run inside Event.Set between its Swap and its
// wake, until the test ends.
func SetEventSetHook(tb cleaner, f func()) { setForTest(tb, &setHook, f) }

// SetSemaphoreReleaseHook makes f run inside Semaphore.Release between
// its CAS and its wake, until the test ends.
func SetSemaphoreReleaseHook(tb cleaner, f func()) { setForTest(tb, &releaseHook, f) }

// SetRWLeaveHook makes f run inside RUnlock between the Add that gives the
// read hold back and what follows, until the test ends.
func SetRWLeaveHook(tb cleaner, f func()) { setForTest(tb, &leaveHook, f) }

// SetRWWriterReleasedHook makes f run inside RWMutex.Unlock, and in a
// writer that gives up, right after the atomic that lets readers in, until
// the test ends.
func SetRWWriterReleasedHook(tb cleaner, f func()) { setForTest(tb, &writerReleasedHook, f) }

// SetCondNotifyHook makes f run inside Cond.Notify and Broadcast right
// after the atomic that moves the sequence, until the test ends.
func SetCondNotifyHook(tb cleaner, f func()) { setForTest(tb, &notifyHook, f) }

// SetPlainReleaseHook makes f run inside Unlock's plain release, between
// its look at the sleepers count and its store, until the test ends.
func SetPlainReleaseHook(tb cleaner, f func()) { setForTest(tb, &plainReleaseHook, f) }

// SetMutexPoll sets a parked Mutex waiter's liveness check period until
// the test ends.
func SetMutexPoll(tb cleaner, d time.Duration) { setForTest(tb, &mutexPoll, d) }

// SetParkLoopHook makes f run at each turn of a Mutex waiter's parking
// loop, with the state word it loaded, until the test ends.
func SetParkLoopHook(tb cleaner, f func(v uint32)) { setForTest(tb, &parkLoopHook, f) }

// SetParkSleepHook makes f run before each sleep of a Mutex waiter on the
// lock word, with the longest that sleep may last, until the test ends.
func SetParkSleepHook(tb cleaner, f func(d time.Duration)) { setForTest(tb, &parkSleepHook, f) }

// MutexFirstSleep is a Mutex waiter's first sleep after it counts itself.
const MutexFirstSleep = mutexFirstSleep

type cleaner interface{ Cleanup(func()) }

// setForTest sets *p to v until the test ends.
func setForTest[T any](tb cleaner, p *T, v T) {
	old := *p
	*p = v
	tb.Cleanup(func() { *p = old })
}

// RWMutexWriter exposes an RWMutex's writer Mutex to tests that watch who
// holds it.
func RWMutexWriter(rw *RWMutex) *Mutex { return rw.w }

// SetMutexYield sets the starvation bound's waits until the test ends: a
// locker's sleep while it leaves a free lock to a starving waiter, and
// how long it leaves it.
func SetMutexYield(tb cleaner, slice, patience time.Duration) {
	setForTest(tb, &mutexYieldSlice, slice)
	setForTest(tb, &mutexWantPatience, patience)
}

// CondSeq exposes a Cond's sequence word, the futex its waiters sleep on.
func CondSeq(c *Cond) *atomic.Uint32 { return c.seq }

// CondSleeping is the waiters' mark on a Cond's sequence word.
const CondSleeping = condSleeping

// CondSleepers reports how many waiters a Cond counts as parked.
func CondSleepers(c *Cond) uint32 { return c.sleepers.Load() }

// SemaphoreSleepers reports how many waiters a Semaphore counts as parked.
func SemaphoreSleepers(s *Semaphore) uint32 { return s.sleepers.Load() }

// RWReadCounts exposes an RWMutex's read count words: overflow, then the
// slots' counts in order.
func RWReadCounts(rw *RWMutex) []*atomic.Uint32 {
	cs := []*atomic.Uint32{rw.overflow}
	for i := range rw.slots {
		cs = append(cs, rw.slots[i].count)
	}
	return cs
}

// RWMyCount exposes this process's read count word of rw.
func RWMyCount(rw *RWMutex) *atomic.Uint32 { return rw.counter() }

// RWWState exposes an RWMutex's writer state word, which readers park on.
func RWWState(rw *RWMutex) *atomic.Uint32 { return rw.wstate }

// The writer state word's bits: a writer announced, a reader parked.
const (
	RWWriter   = rwWriter
	RWSleeping = rwSleeping
)

// RWCountWaiter is the writer's mark on a read count word.
const RWCountWaiter = rwCountWaiter

// SetRWLeaveHookForChild sets leaveHook for the rest of a child process.
func SetRWLeaveHookForChild(f func()) { leaveHook = f }

// SetRWMarkGapHookForChild sets, for the rest of a child process, what a
// writer's release runs between the writer Mutex's release and wstate's.
func SetRWMarkGapHookForChild(f func()) { markGapHook = f }

// BarrierClosing exposes a Barrier's closing and closer words, which shut a
// generation to arrivals.
func BarrierClosing(b *Barrier) (*atomic.Uint32, *atomic.Uint64) { return b.closing, b.closer }

// BarrierPhase exposes a Barrier's phase word, the futex its parties wait on.
func BarrierPhase(b *Barrier) *atomic.Uint32 { return b.phase }

// SetBarrierPhaseHook makes f run inside a Barrier's release, Reset and
// break right after the atomic that moves the phase, until the test ends.
func SetBarrierPhaseHook(tb cleaner, f func()) { setForTest(tb, &phaseHook, f) }

// SetBarrierMoveGapHook makes f run inside a Barrier's move of its phase
// between the release of its lock and the CAS, until the test ends.
func SetBarrierMoveGapHook(tb cleaner, f func()) { setForTest(tb, &moveGapHook, f) }

// SetBarrierMoveGapHookForChild sets moveGapHook for the rest of a child
// process.
func SetBarrierMoveGapHookForChild(f func()) { moveGapHook = f }

// BarrierCount exposes a Barrier's count word (parties arrived in the
// generation) to tests that forge a peer's garbage there.
func BarrierCount(b *Barrier) *atomic.Uint32 { return b.count }

// SetBarrierEnterWait sets how long a Barrier waits for its lock before it
// takes the lock word for garbage, until the test ends.
func SetBarrierEnterWait(tb cleaner, d time.Duration) { setForTest(tb, &enterWait, d) }
