// Package value holds one typed variable in shared memory, as Python's
// multiprocessing.Value and RawValue do.
//
// A Value[T] is made with nothing but its initial value (New, Python's
// Value('i', 0)), in this process's heap of anonymous segments, which many
// small objects share; or created by name in a segment (Create) and found
// by name in another process (Open). Either travels to a worker process inside its
// arguments: it encodes as a handle (segment, object name, kind, type
// fingerprint) and the worker attaches to the same memory. T must be
// fixed-size and pointer-free: booleans, integers, floats, complex numbers,
// and arrays and structs of those. Create refuses any other T with an error
// matching ErrUnsupportedType that names the offending field, and Open
// refuses an object created with another T (Value[int32] over a
// Value[int64]) with ErrIncompatible.
//
// Synchronisation: a Value carries a lock and a seqlock. Store and Update
// take the lock, so writers are serialised (the lock is process-shared, and
// a writer that dies holding it is taken over: see LockContext). Load never
// takes it: it copies T between two reads of a sequence number that writers
// make odd while they write, and retries if they differ, so a reader never
// sees a torn T and never delays a writer (Lameter's seqlock, as in the
// Linux kernel). The copy is a plain one, racing with the writer's in the
// Go memory model's terms; every copy a write overlapped is discarded, and
// the orderings that make the check sound are set out in
// docs/cells.md. For 4- and 8-byte integer T, Load and Store are single
// atomic instructions, and the functions Add, Swap and CompareAndSwap are
// lock-free: they do not take the lock, so Lock does not hold them off
// (but for a handle's first one where membarrier(2) is refused: see Add).
// They are functions, not methods, so that their constraint (Integer)
// makes them a compile-time error for any other T.
//
// Python's "with v.get_lock(): v.value += 1" has two Go forms:
//
//	v.Update(func(p *int64) { *p++ })
//
//	l := v.Lock()
//	l.Store(l.Load() + 1)
//	l.Unlock()
//
// The lock is not re-entrant, and it belongs to the process: the literal
// translation, v.Lock() then v.Store(v.Load()+1), would wait for ever for
// the lock its own goroutine holds. A plain Store, Update or Lock that has
// waited a second for a lock that the same goroutine holds through Lock
// panics instead, with a message that names the fix. Another goroutine
// holding a Locked, however long, only makes it wait. A Store inside
// Update's fn is the same mistake and is not caught (Update records no
// goroutine: that would cost it a microsecond): write through the pointer.
//
// A RawValue[T] has no lock and no seqlock: a plain T in shared memory,
// whose users bring their own synchronisation (Python's RawValue).
//
// Ownership: the segment owns the memory; a Value is a view of it, valid
// while the segment is mapped. Close gives up what the handle alone uses
// (New's heap object, a decoded handle's attachment) and leaves a
// caller's segment alone; it is idempotent, and the Value must not be used
// after it (a call then panics, saying so). A Value must not be copied (use the
// pointer); its methods are safe for concurrent use by any number of
// goroutines and processes. Blocking: Store, Update and Lock wait for the
// lock; Load waits only while a write is in progress. Each has a form
// that takes a context and gives up when it ends (StoreContext,
// UpdateContext, LockContext, LoadContext): a write in progress may be a
// live process's that never ends.
//
// Corrupt state: a peer may write anything into the shared words. A lock
// left by a process that died is taken over and the seqlock repaired; a
// lock word that says "not recoverable" (which package value never
// leaves behind) makes the context forms return ErrNotRecoverable, while
// the plain forms neither panic nor wait: Load returns the T as it
// stands, Store and Update store nothing, Lock returns a Locked that
// holds nothing (its Store stores nothing, its Unlock does nothing).
//
// Scope: Linux.
package value
