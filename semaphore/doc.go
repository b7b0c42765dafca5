// Package semaphore provides the coordination primitives of Python's
// multiprocessing — Lock, Semaphore, BoundedSemaphore, Event, Condition,
// Barrier — plus an RWMutex, living in shared memory and usable from any
// number of processes and goroutines at once.
//
// Scope: Linux only. Every primitive is a few words of a shm segment; the
// waiting is done on those words with shared futexes (package atomics), so
// the processes involved need nothing but the mapping.
//
// Three ways to have one: with nothing but its parameters (NewMutex(),
// NewSemaphore(3), and likewise for the others), placed in this process's
// heap of anonymous segments, which many small objects share; by name in a
// segment's object directory (CreateMutex(seg, "lock"), OpenMutex(seg,
// "lock"), and likewise), for processes that find each other by name; or
// embedded in another object's memory (InitMutex(mem) when the object is
// created, MutexAt(mem) when it is opened; MutexSize and friends are
// multiples of shm.CacheLine). The first two implement GobEncode and
// GobDecode, so they travel in a worker's arguments (package process) as
// segment handle + object name + kind, and arrive attached. Embedded ones
// travel with the object that holds them.
//
// The values returned by NewXxx, CreateXxx, OpenXxx and XxxAt are handles
// on shared words. A handle must not be copied after first use; pass the
// pointer. Their methods are safe for concurrent use. Close gives up what
// the handle alone uses (a NewXxx handle's heap object, a decoded handle's
// attachment); it is idempotent, and never unlocks. A handle must not be
// used after its Close: a call then panics (on a nil pointer: Close
// clears the handle's pointers into the shared memory), and GobEncode
// refuses it.
//
// Ownership: a Mutex (and an RWMutex held for writing) is owned by a
// process, recorded as PID plus start time, so that a reused PID is not
// mistaken for the holder (Owner reports it as a Holder). Goroutines of one
// process exclude each other as with sync.Mutex, and any goroutine may
// unlock. When the holding process dies, the next LockContext gets the lock
// together with ErrOwnerDead and must repair the guarded state and call
// MarkConsistent before Unlock; unlocking without it leaves the lock
// unusable (ErrNotRecoverable) — the pthread robust-mutex contract. The
// plain Lock, which has no error to return, takes a dead holder's lock over
// and marks it consistent itself: the caller proceeds as if the holder had
// unlocked, over state that may be half-updated (Python's Lock, which has
// no robust mode, would stay locked for ever instead). It panics on a lock
// that is not recoverable. Code that can repair uses LockContext. Kernel
// robust futex lists do not fit Go (goroutines move between threads), so
// parked waiters poll the holder's liveness instead (every 50 ms).
//
// Fairness, as sync.Mutex: a locker may take a free Mutex before a waiter
// that was there first (a holder that locks again at once keeps it, which
// is what makes a contended lock fast: each hand-over between processes
// moves the lock's cache line), but a waiter that has waited a millisecond
// is owed the lock: the others, TryLock included, leave it free for that
// waiter until it has taken it, or for 10 ms when it does not come (a
// stopped process, one of another PID namespace).
//
// Liveness is judged by PID, within one PID namespace. Every holder and
// party is recorded with its namespace (the holder's in the lock word
// itself), and a process never judges one of another namespace dead: a
// lock held by a process of another container that dies holding it is
// recovered only by a process of that container. A Mutex in a segment
// attached with shm.ReadOnly cannot be opened (shm.ErrReadOnly): locking
// writes to it.
//
// Python's RLock has no counterpart: a re-entrant lock counts re-entries
// of its owner, and a Go program has no goroutine identity to count them
// against. The owner here is the process, and a lock re-entrant per process
// would let every goroutine of the holder's process in at once. Go code
// that needs re-entry passes "already locked" down explicitly, or splits
// the function into a locking wrapper and a body that expects the lock.
// (RWMutex is a reader/writer lock, not a re-entrant one.)
//
// Semaphore, Event, Cond and Barrier have no owner. What a dying process
// leaves behind is documented on each type.
//
// Blocking: every call that can block comes in two forms, named as in
// package sync: a plain one that waits as long as it takes (Mutex.Lock,
// RWMutex.RLock, Semaphore.Acquire, Event.Wait, Cond.Wait, Cond.WaitFor,
// Barrier.Wait), so that Mutex and RWMutex (and RWMutex.RLocker) are
// sync.Lockers, and a Context form (LockContext, RLockContext,
// AcquireContext, WaitContext, WaitForContext) that returns ctx's error
// when it ends first (Event.WaitContext reports false) and reports a dead
// holder as ErrOwnerDead. Waiting spins first (package spin's adaptive
// wait, the one the rings, queues and pipes make: one load a look, as long
// as past waits of the handle show it pays), then parks the goroutine
// through atomics.Await, which keeps one
// sleeping thread per process per word however many goroutines wait on it.
// Fast paths make no system call: a wake-up is issued only when the word
// says someone sleeps.
//
// The race detector sees neither other processes nor atomics on a shared
// mapping; in race builds each primitive mirrors its acquire/release edges
// on a Go-heap word, so goroutines of one process that take turns through a
// shmkit lock are not reported as racing.
//
// Misuse panics with a "semaphore: " prefix: unlocking an unlocked Mutex,
// RUnlock without RLock, MarkConsistent of a Mutex that needs none.
package semaphore
