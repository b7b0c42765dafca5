package value

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/shm"
)

// noCopy makes go vet's copylocks check flag copies of a Value.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Value is a T in shared memory with a lock and a seqlock: Python's
// multiprocessing.Value. Load never delays a writer and never sees a torn T; Store
// and Update are serialised by the lock. The zero Value is not usable: get
// one from New, Create, Open, or a worker's decoded arguments. A Value must not
// be copied after first use.
type Value[T any] struct {
	_    noCopy
	c    *cell.Cell
	p    *T
	w32  *atomic.Uint32 // the T itself when T is a 4-byte integer; else nil
	w64  *atomic.Uint64 // the T itself when T is an 8-byte integer; else nil
	word bool           // w32 or w64 is set
	// announced is set once this handle has announced itself a lock-free
	// writer of the word (see lockFree).
	announced atomic.Bool
	// tmp is the copy that Update hands to its fn: a T on the heap, made
	// at the first Update and reused, since a copy on the stack whose
	// address goes to an unknown function would be allocated at every
	// call. Owned by the lock holder: only Update under the Value's lock
	// touches it (the lock excludes this process's goroutines too).
	tmp *T
}

// New allocates a Value holding init in this process's heap of shared
// memory (Python's Value('i', 0) is value.New[int32](0)): no segment, no
// name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the Value reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns an error
// matching ErrUnsupportedType, naming the field, when T cannot live in
// shared memory, and shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func New[T any](init T) (*Value[T], error) {
	v := new(Value[T])
	return cell.OrNil(v, v.bind(cell.NewOf(shm.KindValue, false, []T{init})))
}

// Create allocates a Value called name in seg, holding init. It returns an
// error matching ErrUnsupportedType, naming the field, when T cannot live
// in shared memory, and shm.ErrExist when the name is taken.
func Create[T any](seg *shm.Segment, name string, init T) (*Value[T], error) {
	v := new(Value[T])
	return cell.OrNil(v, v.bind(cell.CreateOf(seg, name, shm.KindValue, false, []T{init})))
}

// Open finds the Value called name in seg. It returns ErrIncompatible when
// the object there is not a Value[T] (another T, another kind, or a
// RawValue) and shm.ErrNotExist when there is none.
func Open[T any](seg *shm.Segment, name string) (*Value[T], error) {
	v := new(Value[T])
	return cell.OrNil(v, v.bind(cell.OpenOf[T](seg, name, shm.KindValue, false)))
}

// bind makes v a view of c, whose one element is s[0].
func (v *Value[T]) bind(c *cell.Cell, s []T, err error) error {
	if err != nil {
		return err
	}
	if len(s) != 1 {
		c.Close()
		return fmt.Errorf("%w: value %q holds %d elements", ErrCorrupt, c.Name(), len(s))
	}
	v.c, v.p = c, &s[0]
	v.announced.Store(false)
	switch t := reflect.TypeFor[T](); t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch t.Size() {
		case 4:
			v.w32 = atomics.MustUint32At(c.Data, 0)
		case 8:
			v.w64 = atomics.MustUint64At(c.Data, 0)
		}
		v.word = v.w32 != nil || v.w64 != nil
	}
	return nil
}

// Name returns the Value's name in its segment (one the heap made up for
// a Value from New).
func (v *Value[T]) Name() string { return v.c.Name() }

// Close gives up this handle's hold on the shared memory: the heap object
// of New (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Value made
// by Create or Open lives in the caller's segment, which Close leaves
// mapped. Other processes' handles are not affected: the memory lives as
// long as any process maps it. Close is idempotent; the Value must not be
// used after it, nor while a call on it runs in another goroutine: a call
// after it panics with a message saying so, and GobEncode returns an
// error.
func (v *Value[T]) Close() error {
	err := v.c.Close()
	// Nothing left that points into the memory: Load's fast paths find
	// nil and fall through to the cell's, which panics.
	v.p, v.w32, v.w64, v.word = nil, nil, nil, false
	return err
}

// Load returns the value. It takes no lock and never blocks a writer:
// under a seqlock it copies T, and copies again if a Store or Update
// overlapped the copy, so the result is always a T that some writer
// stored whole. It does not allocate. While a write is in progress it
// spins, then yields; a write that lasts (a writer descheduled, or dead
// mid-write) makes it wait for the lock, which takes a dead writer's over,
// as long as a live process holds it (LoadContext gives up when its
// context ends). When the lock is not recoverable (memory a peer
// corrupted: see ErrNotRecoverable) nobody can be writing, and Load
// returns the T as it stands. For a 4- or 8-byte integer T it is one
// atomic load.
func (v *Value[T]) Load() (x T) {
	if v.w64 != nil {
		return cell.FromBits[T](v.w64.Load())
	}
	if v.word {
		return v.loadWord()
	}
	cell.LoadInto(v.c, &x, v.p)
	return x
}

// LoadContext is Load giving up when ctx ends while it waits for a write
// to end. It returns ctx's error, or ErrNotRecoverable when the lock is
// not recoverable, with the zero T.
func (v *Value[T]) LoadContext(ctx context.Context) (x T, err error) {
	if v.word {
		return v.loadWord(), nil
	}
	if err := cell.LoadIntoContext(ctx, v.c, &x, v.p); err != nil {
		var zero T
		return zero, err
	}
	return x, nil
}

// loadWord is Load for a 4- or 8-byte integer T, apart so that Load
// inlines.
func (v *Value[T]) loadWord() T {
	if v.w64 != nil {
		return cell.FromBits[T](v.w64.Load())
	}
	return cell.FromBits[T](uint64(v.w32.Load()))
}

// LoadInto is Load writing into *dst, which saves a copy of T: for a T of
// many words, the cheaper form. It waits as Load does.
func (v *Value[T]) LoadInto(dst *T) {
	switch {
	case v.word:
		*dst = v.loadWord()
	default:
		cell.LoadInto(v.c, dst, v.p)
	}
}

// Store sets the value to x under the lock. It blocks while another
// process or goroutine holds the lock. The lock is not re-entrant: while
// the caller holds it through Lock, it writes through the Locked that Lock
// returned; a Store that waits over a second for a lock that its own
// goroutine holds through Lock panics with a message saying so, rather
// than hang. A Store inside Update's fn is not caught (Update records no
// goroutine) and waits for ever: write through fn's pointer. When the
// lock is not recoverable it stores nothing: StoreContext says so.
func (v *Value[T]) Store(x T) {
	if !v.c.Hold("value: Store") {
		return
	}
	defer v.c.Unlock()
	v.store(x)
}

// StoreContext is Store giving up when ctx ends before the lock is
// taken: it then returns ctx's error and stores nothing. It returns
// ErrNotRecoverable, storing nothing, when the lock is not recoverable.
func (v *Value[T]) StoreContext(ctx context.Context, x T) error {
	if err := v.c.Acquire(ctx); err != nil {
		return err
	}
	defer v.c.Unlock()
	v.store(x)
	return nil
}

// store writes x; the caller holds the lock.
func (v *Value[T]) store(x T) {
	switch {
	case v.w64 != nil:
		v.w64.Store(cell.Bits(x))
	case v.w32 != nil:
		v.w32.Store(uint32(cell.Bits(x)))
	default:
		v.c.BeginWrite()
		*v.p = x
		v.c.EndWrite()
	}
}

// Update calls fn with a copy of the value, under the lock, and stores
// what fn leaves there; it returns the stored value. It is the Go form of
// Python's "with v.get_lock(): v.value += 1":
//
//	v.Update(func(p *int64) { *p++ })
//
// fn must not call the Value's Store, Update or Lock (the lock is not
// re-entrant, and unlike a call after Lock, one inside fn is not caught:
// it waits for ever), nor keep the pointer after it returns: it points at a copy that the
// next Update reuses (so that an Update allocates nothing). If
// fn panics, the value is unchanged and the lock released. For a 4- or
// 8-byte integer T, which Add, Swap and CompareAndSwap change without the
// lock, Update stores with a plain store as long as no process has used
// them on the value, and from the first such use on with a
// compare-and-swap, calling fn again with the fresh value if one of them
// intervened, so that no update is lost: fn may run more than once. When
// the lock is not recoverable it calls no fn, stores nothing and returns
// the value as Load does (UpdateContext says
// ErrNotRecoverable).
func (v *Value[T]) Update(fn func(*T)) T {
	if !v.c.Hold("value: Update") {
		return v.Load()
	}
	defer v.c.Unlock()
	return v.update(fn)
}

// UpdateContext is Update giving up when ctx ends before the lock is
// taken: it then returns ctx's error and stores nothing, and so it does
// with ErrNotRecoverable when the lock is not recoverable.
func (v *Value[T]) UpdateContext(ctx context.Context, fn func(*T)) (T, error) {
	if err := v.c.LockContext(ctx); err != nil && !errors.Is(err, ErrOwnerDead) {
		var zero T
		return zero, err
	}
	defer v.c.Unlock()
	return v.update(fn), nil
}

// update is Update's body; the caller holds the lock.
func (v *Value[T]) update(fn func(*T)) T {
	x := v.tmp
	if x == nil {
		x = new(T)
		v.tmp = x
	}
	// An integer word is also written by the lock-free Add, Swap and
	// CompareAndSwap: a plain store would lose one that came between the
	// load and the store, unless none can come (cell.StorePlain64, the
	// common case); else the store is a CAS, and fn runs again on the
	// fresh value if one of them got there first.
	if w := v.w64; w != nil {
		for {
			old := w.Load()
			*x = cell.FromBits[T](old)
			fn(x)
			if nw := cell.Bits(*x); v.c.StorePlain64(w, nw) || w.CompareAndSwap(old, nw) { // old -> fn(old)
				return *x
			}
		}
	}
	if w := v.w32; w != nil {
		for {
			old := w.Load()
			*x = cell.FromBits[T](uint64(old))
			fn(x)
			if nw := uint32(cell.Bits(*x)); v.c.StorePlain32(w, nw) || w.CompareAndSwap(old, nw) { // old -> fn(old)
				return *x
			}
		}
	}
	*x = *v.p // the lock holder is the only writer: no seqlock needed to read
	fn(x)
	v.store(*x)
	return *x
}

// Lock takes the value's lock (Python's get_lock().acquire()), waiting as
// long as it takes, and returns the Locked through which the holder reads
// and writes the value until it calls Unlock:
//
//	l := v.Lock() // with v.get_lock():
//	l.Store(l.Load() + 1) //     v.value += 1
//	l.Unlock()
//
// Holding the lock holds off Store, Update and other Lock callers, in
// every process; it does not hold off Load (which never blocks) nor the
// lock-free Add, Swap and CompareAndSwap (but for a handle's first
// lock-free write where membarrier is refused, see Add). The lock is not
// re-entrant: the holder must not call v.Store or v.Update (they wait for
// the lock it holds; after a second they panic, naming this). A lock left
// by a process that died holding it is taken over (LockContext says so).
// A lock that is not recoverable cannot be taken: Lock then returns a
// Locked that holds nothing, whose Store stores nothing and whose Unlock
// does nothing (LockContext says ErrNotRecoverable).
func (v *Value[T]) Lock() *Locked[T] {
	return &Locked[T]{v: v, held: v.c.Guard("value: Lock")}
}

// LockContext is Lock with a context: it returns ctx's error if ctx ends
// first (the lock is then not held, and the Locked is nil), and an error
// matching ErrOwnerDead if it took the lock over from a dead process (the
// lock is then held, and the value may hold a T that process left
// half-written). It returns ErrNotRecoverable, without the lock, when the
// lock is not recoverable.
func (v *Value[T]) LockContext(ctx context.Context) (*Locked[T], error) {
	err := v.c.GuardContext(ctx)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return nil, err
	}
	return &Locked[T]{v: v, held: true}, err
}

// Locked is a Value whose lock the caller holds, as Lock returns it: the
// body of Python's "with v.get_lock():". Its methods must be called only
// until Unlock, by the goroutines the holder lets in.
type Locked[T any] struct {
	v    *Value[T]
	held bool // the lock was taken (false: not recoverable) and not yet unlocked
	done bool // Unlock was called
}

// Load returns the value, as Value.Load does.
func (l *Locked[T]) Load() T {
	l.check("Load")
	return l.v.Load()
}

// Store sets the value to x: readers see it whole, at once. With the lock
// not recoverable (see Value.Lock) it stores nothing.
func (l *Locked[T]) Store(x T) {
	l.check("Store")
	if l.held {
		l.v.store(x)
	}
}

// Unlock releases the lock. It panics if called twice.
func (l *Locked[T]) Unlock() {
	l.check("Unlock")
	l.done = true
	if l.held {
		l.v.c.Unguard()
	}
}

func (l *Locked[T]) check(op string) {
	if l.done {
		panic("value: " + op + " of a Locked after its Unlock")
	}
}

// Integer is the constraint of the lock-free operations: 4- and 8-byte
// integers, the types with one atomic instruction for them.
type Integer interface {
	~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64 | ~uintptr
}

// Add adds delta to v atomically, without the lock, and returns the new
// value: one atomic instruction on the shared word. Integers wrap around as
// Go's do. It does not wait for the lock, so Lock does not hold it off.
// The first Add, Swap or CompareAndSwap through a handle announces it to
// the value's lock holders, so that Update stops storing plainly: a
// membarrier(2) system call (about a microsecond, more on a machine of
// many CPUs), and, if an Update is storing at that moment, a wait for
// that store (nanoseconds, unless its process is descheduled or
// stopped). Where membarrier is refused (a seccomp filter, a kernel
// before 4.16), that first write instead waits for the lock to be free
// once, unless this process holds it through Lock: a Lock holder in
// another process holds it off until its Unlock.
func Add[T Integer](v *Value[T], delta T) T {
	if !v.announced.Load() {
		v.lockFree("Add")
	}
	if v.w64 != nil {
		return cell.FromBits[T](v.w64.Add(cell.Bits(delta)))
	}
	if v.w32 == nil {
		v.c.PanicClosed("Add")
	}
	return cell.FromBits[T](uint64(v.w32.Add(uint32(cell.Bits(delta)))))
}

// Swap stores x in v atomically, without the lock, and returns the old
// value.
func Swap[T Integer](v *Value[T], x T) T {
	if !v.announced.Load() {
		v.lockFree("Swap")
	}
	if v.w64 != nil {
		return cell.FromBits[T](v.w64.Swap(cell.Bits(x)))
	}
	if v.w32 == nil {
		v.c.PanicClosed("Swap")
	}
	return cell.FromBits[T](uint64(v.w32.Swap(uint32(cell.Bits(x)))))
}

// CompareAndSwap stores new in v if it holds old, atomically and without
// the lock, and reports whether it did.
func CompareAndSwap[T Integer](v *Value[T], old, new T) bool {
	if !v.announced.Load() {
		v.lockFree("CompareAndSwap")
	}
	if v.w64 != nil {
		return v.w64.CompareAndSwap(cell.Bits(old), cell.Bits(new))
	}
	if v.w32 == nil {
		v.c.PanicClosed("CompareAndSwap")
	}
	return v.w32.CompareAndSwap(uint32(cell.Bits(old)), uint32(cell.Bits(new)))
}

// lockFree announces v's handle a lock-free writer of the word (see
// cell.AnnounceLockFree), once: from then on no lock holder, in any
// process, stores the word with a plain store that could lose this
// handle's writes.
func (v *Value[T]) lockFree(op string) {
	if !v.word {
		v.c.PanicClosed(op)
	}
	v.c.AnnounceLockFree("value: " + op)
	v.announced.Store(true)
}

// GobEncode encodes the Value as a handle: segment, object name, kind and
// T's fingerprint. A Value inside a worker's arguments reaches the worker
// live (see package process).
func (v *Value[T]) GobEncode() ([]byte, error) { return v.c.GobEncode() }

// GobDecode attaches to the Value a handle names, in place. It returns
// ErrIncompatible when the handle is of another T or variant.
func (v *Value[T]) GobDecode(b []byte) error {
	return v.bind(cell.DecodeOf[T](b, shm.KindValue, false))
}
