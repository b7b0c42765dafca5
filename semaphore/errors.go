package semaphore

import (
	"errors"

	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrOwnerDead is returned by LockContext, TryLock, RLockContext and
	// Cond.WaitContext, together with the lock, when the process that held a
	// Mutex (or an RWMutex for writing) died holding it. (The plain Lock and
	// RLock cannot return it: they mark the lock consistent themselves.) The caller owns
	// the lock; the state it guards may be half-updated. Repair it, call
	// MarkConsistent, then Unlock. Unlocking without MarkConsistent makes the
	// lock unusable for everyone (ErrNotRecoverable), as with pthread robust
	// mutexes (EOWNERDEAD).
	ErrOwnerDead = errors.New("semaphore: previous owner died holding the lock")

	// ErrNotRecoverable is returned by every later attempt to lock a Mutex
	// whose previous owner died and whose next owner unlocked it without
	// calling MarkConsistent (pthread's ENOTRECOVERABLE). The lock is not held.
	ErrNotRecoverable = errors.New("semaphore: lock state is not recoverable")

	// ErrBroken is returned by Barrier.Wait when the barrier is broken: a party
	// timed out or was cancelled, a process died with parties waiting, Abort
	// was called, or Reset ran while the caller waited (Python's
	// BrokenBarrierError).
	ErrBroken = errors.New("semaphore: barrier is broken")

	// ErrOverRelease is returned by Release of a bounded Semaphore that would
	// push its value past its initial value (Python's BoundedSemaphore
	// ValueError).
	ErrOverRelease = errors.New("semaphore: released too many times")

	// ErrIncompatible is shm.ErrIncompatible: the object or memory region is not
	// a primitive of the kind asked for, or of another layout version.
	ErrIncompatible = shm.ErrIncompatible

	// ErrCorrupt is shm.ErrCorrupt: a primitive's shared words hold what no
	// process following its protocol writes.
	ErrCorrupt = shm.ErrCorrupt
)

// errOwnerGone is what a parked waiter's liveness check returns to get out
// of atomics.Await when the owner it waits for has died.
var errOwnerGone = errors.New("semaphore: owner gone")
