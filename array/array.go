package array

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/shm"
)

// noCopy makes go vet's copylocks check flag copies of an Array.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Array is a fixed-length array of T in shared memory with a lock and a
// seqlock: Python's multiprocessing.Array. The zero Array is not usable:
// get one from New, NewFrom, Create, CreateFrom, Open or a worker's
// decoded arguments.
// An Array must not be copied after first use.
type Array[T any] struct {
	_ noCopy
	c *cell.Cell
	s []T    // the elements, in shared memory
	b []byte // the same memory as bytes
}

// New allocates an Array of n zero elements in this process's heap of
// shared memory (Python's Array('i', n) is array.New[int32](n)): no
// segment, no name, no size to choose. Small arrays share a few anonymous
// segments, a large one gets its own (see docs/cells.md); the Array
// reaches worker processes as an argument of process.Start, as queues do.
// Close gives it up. It returns an error matching ErrUnsupportedType,
// naming the field, when T cannot live in shared memory, and
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func New[T any](n int) (*Array[T], error) { return NewFrom(make([]T, n)) }

// NewFrom allocates an Array holding a copy of vals in this process's heap,
// as New does (Python's Array('i', range(50))).
func NewFrom[T any](vals []T) (*Array[T], error) {
	a := new(Array[T])
	return cell.OrNil(a, a.bind(cell.NewOf(shm.KindArray, false, vals)))
}

// Create allocates an Array of n zero elements called name in seg. It
// returns an error matching ErrUnsupportedType, naming the field, when T
// cannot live in shared memory, and shm.ErrExist when the name is taken.
func Create[T any](seg *shm.Segment, name string, n int) (*Array[T], error) {
	return CreateFrom(seg, name, make([]T, n))
}

// CreateFrom allocates an Array called name in seg holding a copy of vals
// (Python's Array('i', range(50)): build the slice, then CreateFrom).
func CreateFrom[T any](seg *shm.Segment, name string, vals []T) (*Array[T], error) {
	a := new(Array[T])
	return cell.OrNil(a, a.bind(cell.CreateOf(seg, name, shm.KindArray, false, vals)))
}

// Open finds the Array called name in seg. It returns ErrIncompatible when
// the object there is not an Array[T] (another T, another kind, or a
// RawArray) and shm.ErrNotExist when there is none.
func Open[T any](seg *shm.Segment, name string) (*Array[T], error) {
	a := new(Array[T])
	return cell.OrNil(a, a.bind(cell.OpenOf[T](seg, name, shm.KindArray, false)))
}

// bind makes a a view of c, whose elements are s.
func (a *Array[T]) bind(c *cell.Cell, s []T, err error) error {
	if err != nil {
		return err
	}
	a.c, a.s, a.b = c, s, c.Data
	return nil
}

// Close gives up this handle's hold on the shared memory: the heap object
// of New (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Array made
// by Create or Open lives in the caller's segment, which Close leaves
// mapped. Other processes' handles are not affected: the memory lives as
// long as any process maps it. Close is idempotent; the Array must not be
// used after it, nor while a call on it runs in another goroutine: a call
// after it panics with a message saying so (Len is then 0, Slice nil),
// and GobEncode returns an error.
func (a *Array[T]) Close() error {
	err := a.c.Close()
	a.s, a.b = nil, nil // nothing left that points into the memory
	return err
}

// checkIndex panics with an error matching ErrOutOfRange unless 0 <= i <
// n; on a closed array (whose n is 0) it panics saying so.
func checkIndex(c *cell.Cell, i, n int) {
	if uint(i) >= uint(n) {
		outOfRange(c, i, n)
	}
}

func outOfRange(c *cell.Cell, i, n int) {
	if c.Closed() {
		c.PanicClosed("element access")
	}
	panic(fmt.Errorf("%w: index %d, length %d", ErrOutOfRange, i, n))
}

// live panics, naming op, when c is closed: for the calls that would
// otherwise treat a closed array as an empty one.
func live(c *cell.Cell, op string) {
	if c.Closed() {
		c.PanicClosed(op)
	}
}

// Name returns the Array's name in its segment.
func (a *Array[T]) Name() string { return a.c.Name() }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.s) }

// At returns element i, read under the seqlock: never torn, never
// blocking a writer, no allocation. It panics with an error matching
// ErrOutOfRange unless 0 <= i < Len. While a write is in progress it
// waits, as long as a live process holds the lock (AtContext gives up
// when its context ends); when the lock is not recoverable (memory a peer
// corrupted: see ErrNotRecoverable) nobody can be writing, and it returns
// the element as it stands.
func (a *Array[T]) At(i int) T {
	checkIndex(a.c, i, len(a.s))
	var x T
	cell.LoadInto(a.c, &x, &a.s[i])
	return x
}

// AtContext is At giving up when ctx ends while it waits for a write to
// end. It returns ctx's error, or ErrNotRecoverable when the lock is not
// recoverable, with the zero T; it panics as At does on a bad index.
func (a *Array[T]) AtContext(ctx context.Context, i int) (T, error) {
	checkIndex(a.c, i, len(a.s))
	var x T
	if err := cell.LoadIntoContext(ctx, a.c, &x, &a.s[i]); err != nil {
		var zero T
		return zero, err
	}
	return x, nil
}

// Set stores x in element i under the lock. It panics with an error
// matching ErrOutOfRange unless 0 <= i < Len. The lock is not re-entrant:
// while the caller holds it through Lock, it writes through the Locked
// that Lock returned; a Set that waits over a second for a lock its own
// goroutine holds through Lock panics, saying so, rather than hang. A Set
// inside With's fn is not caught (With records no goroutine) and waits
// for ever: write through the slice. When the lock is not recoverable it
// stores nothing (SetContext says ErrNotRecoverable).
func (a *Array[T]) Set(i int, x T) {
	checkIndex(a.c, i, len(a.s))
	a.write(context.Background(), "array: Set", func() { a.s[i] = x })
}

// SetContext is Set giving up when ctx ends before the lock is taken: it
// then returns ctx's error and stores nothing, as it does with
// ErrNotRecoverable when the lock is not recoverable.
func (a *Array[T]) SetContext(ctx context.Context, i int, x T) error {
	checkIndex(a.c, i, len(a.s))
	return a.write(ctx, "", func() { a.s[i] = x })
}

// write runs fn as a write: under the lock, between the seqlock's two
// increments, releasing both if fn panics. It returns, without calling
// fn, ctx's error or ErrNotRecoverable if it cannot take the lock. A
// non-empty op is a plain call of that name, which waits as cell.Hold
// does (and panics where Hold does) and has no ctx.
func (a *Array[T]) write(ctx context.Context, op string, fn func()) error {
	switch {
	case op == "":
		if err := a.c.Acquire(ctx); err != nil {
			return err
		}
	case !a.c.Hold(op):
		return ErrNotRecoverable
	}
	defer a.c.Unlock()
	a.c.BeginWrite()
	defer a.c.EndWrite()
	fn()
	return nil
}

// Slice returns the elements as a []T over the shared memory: zero-copy,
// and unsynchronised: reads through it may see a write half done and
// writes through it are invisible to the seqlock, so use it inside With,
// or where the program orders the processes otherwise (after a worker has
// exited, say). Valid while the segment is mapped.
func (a *Array[T]) Slice() []T { return a.s }

// With calls fn with the zero-copy view under the array's lock, as one
// write: readers (At, CopyTo, All, ReadAt) wait for it to return and then
// see all of its changes or none. fn must not call the Array's methods
// (the lock is not recursive, and a reader waits for fn to return: read
// and write the slice instead) and must not keep the slice. When the
// lock is not recoverable it does not call fn (WithContext says
// ErrNotRecoverable).
func (a *Array[T]) With(fn func([]T)) {
	if !a.c.Hold("array: With") {
		return
	}
	defer a.c.Unlock()
	a.c.BeginWrite()
	defer a.c.EndWrite()
	fn(a.s)
}

// WithContext is With giving up when ctx ends before the lock is taken:
// it then returns ctx's error without calling fn, as it does with
// ErrNotRecoverable when the lock is not recoverable.
func (a *Array[T]) WithContext(ctx context.Context, fn func([]T)) error {
	if err := a.c.LockContext(ctx); err != nil && !errors.Is(err, ErrOwnerDead) {
		return err
	}
	defer a.c.Unlock()
	a.c.BeginWrite()
	defer a.c.EndWrite()
	fn(a.s)
	return nil
}

// CopyTo copies the array's first min(len(dst), Len) elements into dst,
// as one seqlock read (no write overlapped the copy), and returns how many
// it copied. It waits as At does.
func (a *Array[T]) CopyTo(dst []T) int { return cell.CopyOut(a.c, dst, a.s) }

// CopyToContext is CopyTo giving up as AtContext does, returning 0 and
// ctx's error or ErrNotRecoverable.
func (a *Array[T]) CopyToContext(ctx context.Context, dst []T) (int, error) {
	return cell.CopyOutContext(ctx, a.c, dst, a.s)
}

// CopyFrom copies src into the array's first min(len(src), Len) elements
// under the lock, as one write, and returns how many it copied: 0 when
// the lock is not recoverable (CopyFromContext says ErrNotRecoverable).
func (a *Array[T]) CopyFrom(src []T) (n int) {
	a.write(context.Background(), "array: CopyFrom", func() { n = copy(a.s, src) })
	return n
}

// CopyFromContext is CopyFrom giving up when ctx ends before the lock is
// taken: it then returns 0 and ctx's error, as it does with
// ErrNotRecoverable when the lock is not recoverable.
func (a *Array[T]) CopyFromContext(ctx context.Context, src []T) (n int, err error) {
	err = a.write(ctx, "", func() { n = copy(a.s, src) })
	return n, err
}

// All yields each index and element, every element read (and waited
// for) as At reads it.
// The elements are not one snapshot: writes between two of them show.
// For a snapshot, CopyTo.
func (a *Array[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		live(a.c, "All")
		for i := range a.s {
			var x T
			cell.LoadInto(a.c, &x, &a.s[i])
			if !yield(i, x) {
				return
			}
		}
	}
}

// ReadAt implements io.ReaderAt over the bytes of the elements, copying
// as one seqlock read. It waits as At does, and returns ErrNotRecoverable
// when the lock is not recoverable.
func (a *Array[T]) ReadAt(p []byte, off int64) (int, error) {
	live(a.c, "ReadAt")
	return readAt(a.b, p, off, func(dst, src []byte) (int, error) {
		return cell.CopyOutContext(context.Background(), a.c, dst, src)
	})
}

// WriteAt implements io.WriterAt over the bytes of the elements, writing
// under the lock as one write. Bytes past the end are not written, and
// the error then matches ErrOutOfRange. It returns ErrNotRecoverable,
// writing nothing, when the lock is not recoverable.
func (a *Array[T]) WriteAt(p []byte, off int64) (n int, err error) {
	live(a.c, "WriteAt")
	return writeAt(a.b, p, off, func(dst, src []byte) (int, error) {
		err := a.write(context.Background(), "array: WriteAt", func() { n = copy(dst, src) })
		return n, err
	})
}

// Lock takes the array's lock (Python's get_lock().acquire()), waiting as
// long as it takes, and returns the Locked through which the holder reads
// and writes elements until it calls Unlock:
//
//	l := a.Lock() // with a.get_lock():
//	l.Set(0, l.At(0)+1) //     a[0] += 1
//	l.Unlock()
//
// Holding it holds off Set, CopyFrom, WriteAt, With and other Lock callers
// in every process, not the lock-free readers. The lock is not re-entrant:
// the holder must not call a's writing methods (after a second's wait they
// panic, naming this). A lock left by a process that died holding it is
// taken over (LockContext says so). A lock that is not recoverable cannot
// be taken: Lock then returns a Locked that holds nothing, whose Set
// stores nothing and whose Unlock does nothing (LockContext says
// ErrNotRecoverable).
func (a *Array[T]) Lock() *Locked[T] {
	return &Locked[T]{a: a, held: a.c.Guard("array: Lock")}
}

// LockContext is Lock with a context: it returns ctx's error if ctx ends
// first (the lock is not held, and the Locked is nil), and an error
// matching ErrOwnerDead if it took the lock over from a dead process (the
// lock is held, and the array may hold that process's half-done write). It
// returns ErrNotRecoverable, without the lock, when the lock is not
// recoverable.
func (a *Array[T]) LockContext(ctx context.Context) (*Locked[T], error) {
	err := a.c.GuardContext(ctx)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return nil, err
	}
	return &Locked[T]{a: a, held: true}, err
}

// Locked is an Array whose lock the caller holds, as Lock returns it: the
// body of Python's "with a.get_lock():". Its methods must be called only
// until Unlock. For many elements at once, With hands out the slice under
// the lock as one write.
type Locked[T any] struct {
	a    *Array[T]
	held bool // the lock was taken (false: not recoverable) and not yet unlocked
	done bool // Unlock was called
}

// Len returns the number of elements.
func (l *Locked[T]) Len() int { return len(l.a.s) }

// At returns element i. It panics with an error matching ErrOutOfRange
// unless 0 <= i < Len.
func (l *Locked[T]) At(i int) T {
	l.check("At")
	checkIndex(l.a.c, i, len(l.a.s))
	return l.a.s[i] // the holder is the only writer
}

// Set stores x in element i: readers see it whole. It panics with an
// error matching ErrOutOfRange unless 0 <= i < Len. With the lock not
// recoverable (see Array.Lock) it stores nothing.
func (l *Locked[T]) Set(i int, x T) {
	l.check("Set")
	checkIndex(l.a.c, i, len(l.a.s))
	if l.held {
		l.a.c.BeginWrite()
		l.a.s[i] = x
		l.a.c.EndWrite()
	}
}

// Unlock releases the lock. It panics if called twice.
func (l *Locked[T]) Unlock() {
	l.check("Unlock")
	l.done = true
	if l.held {
		l.a.c.Unguard()
	}
}

func (l *Locked[T]) check(op string) {
	if l.done {
		panic("array: " + op + " of a Locked after its Unlock")
	}
}

// GobEncode encodes the Array as a handle: segment, object name, kind and
// T's fingerprint. An Array inside a worker's arguments reaches the
// worker live (see package process).
func (a *Array[T]) GobEncode() ([]byte, error) { return a.c.GobEncode() }

// GobDecode attaches to the Array a handle names, in place. It returns
// ErrIncompatible when the handle is of another T or variant.
func (a *Array[T]) GobDecode(b []byte) error {
	return a.bind(cell.DecodeOf[T](b, shm.KindArray, false))
}

func readAt(data, p []byte, off int64, cp func(dst, src []byte) (int, error)) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: offset %d", ErrOutOfRange, off)
	}
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n, err := cp(p, data[off:])
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func writeAt(data, p []byte, off int64, cp func(dst, src []byte) (int, error)) (int, error) {
	if off < 0 || off > int64(len(data)) {
		return 0, fmt.Errorf("%w: offset %d in %d bytes", ErrOutOfRange, off, len(data))
	}
	n, err := cp(data[off:], p)
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, fmt.Errorf("%w: %d bytes at offset %d in %d bytes", ErrOutOfRange, len(p), off, len(data))
	}
	return n, nil
}
