// Package array holds a fixed-length typed array in shared memory, as
// Python's multiprocessing.Array and RawArray do.
//
// An Array[T] is made from a length (New, Python's Array('i', 10)) or from
// initial values (NewFrom, Python's Array('i', range(50))) in this
// process's heap of anonymous segments, with no segment, name or size to
// choose; or created by name in a segment (Create, CreateFrom) and found by
// name in another process (Open). Either is passed to a worker process inside its arguments: it encodes as a handle
// (segment, object name, kind, type fingerprint) and the worker attaches
// to the same memory. T must be fixed-size and pointer-free; any other T
// is refused with ErrUnsupportedType naming the offending field, and
// opening an array created with another T gives ErrIncompatible.
//
// Synchronisation: an Array carries a lock and a seqlock over the whole
// array. Set, CopyFrom, WriteAt and With take the lock; At, CopyTo, ReadAt
// and All take no lock, never delay a writer, and never see a torn
// element (CopyTo and ReadAt see no torn range: they copy under one
// sequence number). All reads each element on its own: the sequence it
// yields is not one snapshot. Slice returns the shared memory itself as a
// []T: zero-copy and unsynchronised (take the lock with With, or
// coordinate otherwise).
//
// A RawArray[T] has no lock and no seqlock (Python's RawArray): every
// access is a plain, unsynchronised one.
//
// Both implement io.ReaderAt and io.WriterAt over the bytes of their
// elements (in the machine's byte order): an Array[byte] is a shared byte
// buffer for anything that takes those interfaces.
//
// Indexes: At and Set panic on an index outside [0, Len) with an error
// matching ErrOutOfRange, as indexing a slice does (Python raises
// IndexError). ReadAt and WriteAt return errors instead.
//
// Ownership: the segment owns the memory; an Array is a view of it, valid
// while the segment is mapped. Close gives up what the handle alone uses
// (New's heap object, a decoded handle's attachment) and leaves a
// caller's segment alone; it is idempotent, and the Array must not be used
// after it (a call then panics, saying so). An Array must not be copied (use the
// pointer); its methods are safe for concurrent use by goroutines and
// processes.
//
// Blocking: Set, CopyFrom, WriteAt, With and Lock wait for the lock; At,
// CopyTo, ReadAt and All wait only while a write is in progress. Each
// waiting call but All, ReadAt and WriteAt has a form that takes a
// context and gives up when it ends (AtContext, SetContext,
// CopyToContext, CopyFromContext, WithContext, LockContext): a write in
// progress may be a live process's that never ends.
//
// Python's "with a.get_lock(): a[0] += 1" is
//
//	l := a.Lock()
//	l.Set(0, l.At(0)+1)
//	l.Unlock()
//
// or a.With(func(s []int32) { s[0]++ }). The lock is not re-entrant and
// belongs to the process: a plain Set (CopyFrom, WriteAt, With, Lock) that
// has waited a second for a lock that the same goroutine holds through
// Lock panics with a message that names the fix, rather than wait for ever
// for its own caller, as the literal translation a.Lock(); a.Set(0,
// a.At(0)+1) would. Another goroutine's Lock only makes it wait; a Set
// inside With's fn is not caught (write through the slice).
//
// Corrupt state: a peer may write anything into the shared words. A lock
// left by a process that died is taken over and the seqlock repaired; a
// lock word that says "not recoverable" (which package array never
// leaves behind) makes the context forms, ReadAt and WriteAt return
// ErrNotRecoverable, while the plain forms neither panic nor wait: At,
// CopyTo and All return the elements as they stand, Set, CopyFrom and
// With write nothing, Lock returns a Locked that holds nothing (its Set
// stores nothing, its Unlock does nothing).
//
// Scope: Linux.
package array
