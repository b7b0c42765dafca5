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
func SetReleasedHook(tb interface{ Cleanup(func()) }, f func()) {
	releasedHook = f
	tb.Cleanup(func() { releasedHook = nil })
}

// SetPlainReleaseHook makes f run inside Unlock's plain release, between
// its look at the sleepers count and its store, until the test ends.
func SetPlainReleaseHook(tb interface{ Cleanup(func()) }, f func()) {
	plainReleaseHook = f
	tb.Cleanup(func() { plainReleaseHook = nil })
}

// SetMutexPoll sets a parked Mutex waiter's liveness check period until
// the test ends.
func SetMutexPoll(tb interface{ Cleanup(func()) }, d time.Duration) {
	old := mutexPoll
	mutexPoll = d
	tb.Cleanup(func() { mutexPoll = old })
}

// SetParkLoopHook makes f run at each turn of a Mutex waiter's parking
// loop, with the state word it loaded, until the test ends.
func SetParkLoopHook(tb interface{ Cleanup(func()) }, f func(v uint32)) {
	parkLoopHook = f
	tb.Cleanup(func() { parkLoopHook = nil })
}
