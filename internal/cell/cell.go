package cell

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/goid"
	"github.com/shmkit/shmkit/internal/heap"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// ErrOwnerDead is semaphore.ErrOwnerDead: Lock took the lock over from a
// process that died holding it.
var ErrOwnerDead = semaphore.ErrOwnerDead

// ErrNotRecoverable is semaphore.ErrNotRecoverable: the lock word says no
// call may take the lock again.
var ErrNotRecoverable = semaphore.ErrNotRecoverable

// Spec says what a cell holds: the object kind (shm.KindValue or
// shm.KindArray), the element type's fingerprint, and whether it is a raw
// (lock-free, unsynchronised) variant.
type Spec struct {
	Kind shm.Kind
	Type shm.TypeID
	Raw  bool
}

func (sp Spec) object() shm.ObjectSpec {
	v := uint16(Version)
	if sp.Kind == shm.KindArray {
		v = ArrayVersion
	}
	return shm.ObjectSpec{Kind: sp.Kind, Version: v, Type: sp.Type}
}

func (sp Spec) variant() string {
	if sp.Raw {
		return "raw " + sp.Kind.String()
	}
	return sp.Kind.String() + " with a lock"
}

// Cell is one value or array object as this process maps it. Its fields are
// set once by Create, Open or Decode and never change.
type Cell struct {
	Obj  *shm.Object
	Spec Spec
	Len  int    // elements
	Data []byte // the data region: Len elements, CacheLine-aligned

	seq *atomic.Uint64 // nil for a raw cell
	// writers is the lock-free writers word (see plain.go); nil for a raw
	// cell.
	writers *atomic.Uint32
	mu      *semaphore.Mutex // nil for a raw cell

	// hold is what Close gives up: the heap object of New, the
	// attachment of Decode; nil for Create and Open, whose segment is the
	// caller's. Set once before the Cell is handed out.
	hold io.Closer
	// closed is set by Close, which also clears seq, mu and Data: a call
	// on a closed cell then finds nil where it would have touched memory
	// that may be unmapped, and panics saying so (PanicClosed) instead
	// of faulting. Owned by the handle's user: Close must not run beside
	// another call (see the handles' Close).
	closed bool
}

// Close gives up what the cell alone holds (see hold) and unmaps it when
// it was the last user in this process. It is idempotent. The cell must
// not be used after it: its calls panic (PanicClosed).
func (c *Cell) Close() error {
	if c == nil || c.closed {
		return nil
	}
	c.closed = true
	c.seq, c.writers, c.mu, c.Data = nil, nil, nil, nil
	if c.hold == nil {
		return nil
	}
	return c.hold.Close()
}

// Closed reports whether Close was called.
func (c *Cell) Closed() bool { return c == nil || c.closed }

// PanicClosed panics with the message of op called on a closed handle
// ("value: Load of a closed Value"). The handles call it off their fast
// paths, where a nil that Close left is found.
func (c *Cell) PanicClosed(op string) { panic(closedError{c, op}) }

// closedError is the value of PanicClosed's panic. The fast paths panic
// with it directly: a panic of a composite literal keeps them inlinable,
// where a call would not.
type closedError struct {
	c  *Cell
	op string
}

func (e closedError) Error() string {
	return fmt.Sprintf("%v: %s of a closed %s (the handle must not be used after its Close)", e.c.Spec.Kind, e.op, e.c.typeName())
}

// typeName is the Go type of the cell's handle, as its users know it.
func (c *Cell) typeName() string {
	name := "Value"
	if c.Spec.Kind == shm.KindArray {
		name = "Array"
	}
	if c.Spec.Raw {
		return "Raw" + name
	}
	return name
}

// Create allocates a cell of n elements called name in seg. init, when not
// nil, fills the data region before the object is published.
func Create(seg *shm.Segment, name string, sp Spec, n int, init func(data []byte)) (*Cell, error) {
	return place(sp, n, init, func(o shm.ObjectSpec, fill func([]byte) error) (*shm.Object, io.Closer, error) {
		obj, err := seg.Alloc(name, o, fill)
		return obj, nil, err
	})
}

// New allocates a cell of n elements in this process's heap (package
// heap); its Close gives the heap object up.
func New(sp Spec, n int, init func(data []byte)) (*Cell, error) {
	return place(sp, n, init, func(o shm.ObjectSpec, fill func([]byte) error) (*shm.Object, io.Closer, error) {
		return heap.Alloc(o, fill)
	})
}

// place allocates a cell's object with alloc, which returns what the
// cell's Close must close (nil: nothing).
func place(sp Spec, n int, init func(data []byte), alloc func(shm.ObjectSpec, func([]byte) error) (*shm.Object, io.Closer, error)) (*Cell, error) {
	size, err := bodySize(n, sp.Type.Size)
	if err != nil {
		return nil, err
	}
	ospec := sp.object()
	ospec.Capacity, ospec.BodySize = uint64(n), size
	obj, hold, err := alloc(ospec, func(body []byte) error {
		if sp.Raw {
			binary.LittleEndian.PutUint32(body[OffFlags:], FlagRaw)
		} else if _, err := semaphore.InitMutex(body[OffLock : OffLock+LockSize]); err != nil {
			return err
		}
		if init != nil {
			init(body[OffData:size])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c, err := bind(obj, sp)
	if err != nil {
		if hold != nil {
			hold.Close()
		}
		return nil, err
	}
	c.hold = hold
	return c, nil
}

// Open finds the cell called name in seg and checks that it is what sp
// says: kind, layout version and element type (shm.ErrIncompatible
// otherwise, saying what differs), raw or not, and a body that holds its
// elements (shm.ErrCorrupt otherwise).
func Open(seg *shm.Segment, name string, sp Spec) (*Cell, error) {
	ospec := sp.object()
	obj, err := seg.Lookup(name, &ospec)
	if err != nil {
		return nil, err
	}
	return bind(obj, sp)
}

func bind(obj *shm.Object, sp Spec) (*Cell, error) {
	if err := Validate(obj.Header, obj.Body); err != nil {
		return nil, fmt.Errorf("object %q: %w", obj.Name, err)
	}
	raw := le32(obj.Body[OffFlags:])&FlagRaw != 0
	if raw != sp.Raw {
		have := sp
		have.Raw = raw
		return nil, fmt.Errorf("%w: object %q is a %s, caller asked for a %s", shm.ErrIncompatible, obj.Name, have.variant(), sp.variant())
	}
	n := int(obj.Header.Capacity)
	c := &Cell{Obj: obj, Spec: sp, Len: n, Data: obj.Body[OffData : OffData+n*int(sp.Type.Size)]}
	if !raw {
		mu, err := semaphore.MutexAt(obj.Body[OffLock : OffLock+LockSize])
		if err != nil {
			return nil, fmt.Errorf("object %q: %w", obj.Name, err)
		}
		c.seq, c.mu = atomics.MustUint64At(obj.Body, OffSeq), mu
		c.writers = atomics.MustUint32At(obj.Body, OffWriters)
	}
	return c, nil
}

// Name returns the object's name in its segment.
func (c *Cell) Name() string { return c.Obj.Name }

// LockContext takes the cell's lock, a semaphore.Mutex. When the previous holder
// died holding it, it takes it over, repairs the seqlock (a write the dead
// holder left half done leaves seq odd: Lock makes it even, so that readers
// stop waiting, and the data holds whatever the holder had written), marks
// the Mutex consistent, and returns an error matching ErrOwnerDead with the
// lock held. On any other error the lock is not held.
//
// Whoever takes the lock also checks seq: with the lock held nobody can be
// writing, so an odd seq is a leftover (of a dead writer, or of memory a
// peer corrupted). Left odd, it would make every reader wait for ever and
// the next write's increments publish mid-write; Lock makes it even.
func (c *Cell) LockContext(ctx context.Context) error {
	if c.mu == nil {
		c.PanicClosed("lock")
	}
	err := c.mu.LockContext(ctx)
	dead := errors.Is(err, ErrOwnerDead)
	if err != nil && !dead {
		return err
	}
	c.repair(dead)
	return err
}

// repair is what LockContext does once it holds the lock: seq made even,
// a dead holder's lock marked consistent.
func (c *Cell) repair(dead bool) {
	if s := c.seq.Load(); s&1 != 0 {
		c.seq.CompareAndSwap(s, s+1) // odd with the lock held (a dead or broken writer's) -> even
	}
	if dead {
		c.mu.MarkConsistent()
	}
}

// Acquire is Lock for callers that repair nothing beyond what Lock
// repairs: a lock taken over from a dead holder counts as taken (nil).
// It returns ctx's error, or semaphore.ErrNotRecoverable, without the lock.
func (c *Cell) Acquire(ctx context.Context) error {
	if err := c.LockContext(ctx); err != nil && !errors.Is(err, ErrOwnerDead) {
		return err
	}
	return nil
}

// Hold is Acquire for callers with no context: it waits as long as a
// live process holds the lock. It reports false, without the lock, when
// the lock is not recoverable: a cell's own Lock always repairs and marks
// its lock consistent, so that state is memory a peer corrupted, and no
// call can take the lock again.
//
// op names the caller ("value: Store") for the one failure Hold makes
// loud: waiting for a lock that the calling goroutine itself holds through
// a Guard (Value.Lock, Array.Lock), which it will never unlock: Python's
// "with v.get_lock(): v.value += 1" translated literally. Once it has
// waited SelfWait, Hold looks whether that is so and then panics with a
// message that names the fix, rather than hang. Another goroutine's Guard,
// however long held, only makes it wait.
func (c *Cell) Hold(op string) bool {
	if c.mu == nil {
		c.PanicClosed("lock")
	}
	// A lock free for the taking needs no wait, and so no context: that
	// costs allocations and a timer at every Store.
	if ok, err := c.mu.TryLock(); ok {
		if err != nil || c.seq.Load()&1 != 0 {
			c.repair(err != nil && errors.Is(err, ErrOwnerDead))
		}
		return true
	}
	ctx := deadlines.Get().(*deadlineCtx)
	defer deadlines.Put(ctx)
	for {
		ctx.d = time.Now().Add(SelfWait)
		err := c.Acquire(ctx)
		switch {
		case err == nil:
			return true
		case errors.Is(err, ErrNotRecoverable):
			return false
		}
		if c.mu.Owner().Pid == os.Getpid() && c.guardHeldBy(goid.ID()) {
			panic(fmt.Sprintf("%s waits for the lock of %s %q, which this goroutine holds through Lock and which is not re-entrant: "+
				"inside l := x.Lock(), read and write through l (l.Store(l.Load()+1); l.Unlock()), or use Update/With, or the Context form to wait with a deadline",
				op, c.Spec.Kind, c.Name()))
		}
	}
}

// deadlineCtx is the context of Hold's waits: a deadline, and nothing
// else. context.WithTimeout makes a channel, a timer and four allocations
// at every wait that finds the lock held; this needs neither. Its Done is
// nil, as a context that is never cancelled has, and Err reports the
// deadline once it has passed: the Mutex's wait takes the deadline as the
// timeout of its sleeps and looks at Err whenever it wakes (a Mutex wait
// also wakes at every liveness poll), so it returns at the deadline as
// with WithTimeout. It is for Hold's waits only, which need no more.
type deadlineCtx struct{ d time.Time }

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.d, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return nil }
func (c *deadlineCtx) Value(any) any               { return nil }

func (c *deadlineCtx) Err() error {
	if time.Now().Before(c.d) {
		return nil
	}
	return context.DeadlineExceeded
}

// deadlines recycles Hold's contexts: a wait allocates nothing.
var deadlines = sync.Pool{New: func() any { return new(deadlineCtx) }}

// SelfWait is how long Hold waits before it looks whether the lock it waits
// for is held by a Guard of its own goroutine (a look costs a microsecond).
const SelfWait = time.Second

// Guard takes the lock, as Hold does, for a caller that hands it to user
// code (Value.Lock, Array.Lock), and records the calling goroutine, so that
// a plain write of the same goroutine that then waits for the lock panics
// instead of hanging. It reports false, without the lock, as Hold does.
// Unguard releases it. Recording the goroutine costs about a microsecond.
func (c *Cell) Guard(op string) bool {
	if !c.Hold(op) {
		return false
	}
	c.guardAdd(goid.ID())
	return true
}

// GuardContext is Guard with a context, and LockContext's results: the
// lock is held after nil and after an error matching ErrOwnerDead.
func (c *Cell) GuardContext(ctx context.Context) error {
	err := c.LockContext(ctx)
	if err == nil || errors.Is(err, ErrOwnerDead) {
		c.guardAdd(goid.ID())
	}
	return err
}

// Unguard releases a lock that Guard or GuardContext took. It may be
// called from another goroutine than the Guard's.
func (c *Cell) Unguard() {
	c.guardDrop()
	c.Unlock()
}

// guardIDs records, for each lock word of this process's mappings that a
// Guard holds, the goroutines that hold it so (at most one at a time, as
// the lock is exclusive; a list keeps the bookkeeping simple). A word's
// entry goes with its last Guard: kept for good, the map grew by a word
// per address ever locked, without bound in a service that makes and
// closes cells (TestGuardRecordsGoWithTheirGuard). Only Guard, Unguard
// and waits that found the lock held come here: one mutex serves them.
var (
	guardMu  sync.Mutex
	guardIDs = map[uintptr][]uint64{} // the address of a cell's seq word -> goroutines (goid.ID)
)

// guardKey is the key of c's lock word in guardIDs.
func (c *Cell) guardKey() uintptr { return uintptr(unsafe.Pointer(c.seq)) }

// guardAdd records that goroutine id holds c's lock through a Guard.
func (c *Cell) guardAdd(id uint64) {
	guardMu.Lock()
	guardIDs[c.guardKey()] = append(guardIDs[c.guardKey()], id)
	guardMu.Unlock()
}

// guardDrop forgets the oldest Guard of c's lock (the lock is exclusive:
// there is one), and the word's entry with it.
func (c *Cell) guardDrop() {
	guardMu.Lock()
	k := c.guardKey()
	if ids := guardIDs[k]; len(ids) > 1 {
		guardIDs[k] = ids[1:]
	} else {
		delete(guardIDs, k)
	}
	guardMu.Unlock()
}

// guardHeld reports whether a goroutine of this process holds c's lock
// through a Guard.
func (c *Cell) guardHeld() bool {
	guardMu.Lock()
	defer guardMu.Unlock()
	return len(guardIDs[c.guardKey()]) > 0
}

// guardHeldBy reports whether goroutine id holds c's lock through a Guard.
func (c *Cell) guardHeldBy(id uint64) bool {
	guardMu.Lock()
	defer guardMu.Unlock()
	return slices.Contains(guardIDs[c.guardKey()], id)
}

// Unlock releases the lock taken by Lock. A lock that is not recoverable
// (see Hold) is left as it is: the caller of a plain lock that could not
// take it unlocks nothing, and does not panic for what a peer wrote.
func (c *Cell) Unlock() {
	if c.mu == nil {
		c.PanicClosed("Unlock")
	}
	if !c.mu.Recoverable() {
		return
	}
	c.mu.Unlock()
}

// BeginWrite marks a write in progress; the caller holds the lock and
// calls EndWrite when the data is written.
func (c *Cell) BeginWrite() {
	if c.seq == nil {
		panic(closedError{c, "write"})
	}
	c.seq.Add(1) // publishes: a write in progress (seq odd); readers retry
}

// EndWrite ends the write BeginWrite began.
func (c *Cell) EndWrite() {
	c.seq.Add(1) // publishes: the data written since BeginWrite (seq even)
}

// LoadInto copies *p, which lies in c's data region, into *dst under the
// seqlock: what it leaves in *dst is a copy that no write overlapped. It
// never blocks a writer and never allocates; see readWait for what it
// does while a write is in progress. dst must not be shared memory that
// another process reads.
//
// A write that never ends makes it wait for the lock: as long as a live
// process holds it (LoadIntoContext takes a context). When the lock is
// not recoverable (see Hold) no process can be writing, and it copies the
// data as it stands.
//
// The copy itself is a plain Go copy, which the Go memory model calls a
// race with the writer's plain copy; the sequence check discards every
// copy a write overlapped, and the orderings it relies on are these. The
// first load of seq is atomic and comes before the copy's loads (amd64
// keeps loads in order; arm64's atomic load is a load-acquire). The copy's
// loads must come before the second load of seq: amd64 keeps loads in
// order, and other architectures use a read-don't-modify-write
// (CompareAndSwap(s, s), a release) as Boehm recommends in "Can seqlocks
// get along with programming language memory models?" (MSPC 2012); see
// recheck. The Go compiler does not move memory operations across atomic
// operations. A torn copy is overwritten before the caller looks at it,
// so a field of T that holds an invalid bit pattern (a bool that is
// neither 0 nor 1) is never observed.
//
// It copies into a destination rather than returning T: for a T of a few
// words, each copy through a return value costs as much as the read.
func LoadInto[T any](c *Cell, dst, p *T) {
	if c.seq == nil { // the nil check the load makes anyway: free
		panic(closedError{c, "read"})
	}
	s := c.seq.Load() // observes: the data of the last finished write (seq even)
	*dst = *p
	if s&1 == 0 && recheck(c.seq, s) {
		return
	}
	if loadSlow(context.Background(), c, dst, p) != nil {
		*dst = *p // not recoverable: nobody holds the lock, nobody writes
	}
}

// LoadIntoContext is LoadInto giving up when ctx ends while it waits for
// a write to end: it returns ctx's error, or ErrNotRecoverable when the
// lock is not recoverable; *dst then holds no meaningful value.
func LoadIntoContext[T any](ctx context.Context, c *Cell, dst, p *T) error {
	if c.seq == nil {
		panic(closedError{c, "read"})
	}
	s := c.seq.Load() // observes: the data of the last finished write (seq even)
	*dst = *p
	if s&1 == 0 && recheck(c.seq, s) {
		return nil
	}
	return loadSlow(ctx, c, dst, p)
}

// loadSlow is LoadInto's retry loop, apart so that the first try inlines.
func loadSlow[T any](ctx context.Context, c *Cell, dst, p *T) error {
	for i := 0; ; i++ {
		if err := c.readWait(ctx, i); err != nil {
			return err
		}
		s := c.seq.Load() // observes: the data of the last finished write (seq even)
		if s&1 == 0 {
			*dst = *p
			if recheck(c.seq, s) {
				return nil
			}
		}
	}
}

// CopyOut copies src, which lies in c's data region, into dst under the
// seqlock, as LoadInto does (and waits as it does), and returns the
// number of elements copied.
func CopyOut[T any](c *Cell, dst, src []T) int {
	n, err := CopyOutContext(context.Background(), c, dst, src)
	if err != nil {
		return copy(dst, src) // not recoverable: nobody holds the lock, nobody writes
	}
	return n
}

// CopyOutContext is CopyOut giving up, as LoadIntoContext does, with
// ctx's error or ErrNotRecoverable; dst then holds no meaningful values.
func CopyOutContext[T any](ctx context.Context, c *Cell, dst, src []T) (int, error) {
	if c.seq == nil {
		c.PanicClosed("read")
	}
	for i := 0; ; i++ {
		s := c.seq.Load() // observes: the data of the last finished write (seq even)
		if s&1 == 0 {
			n := copy(dst, src)
			if recheck(c.seq, s) {
				return n, nil
			}
		}
		if err := c.readWait(ctx, i); err != nil {
			return 0, err
		}
	}
}

// Spin and yield counts of a seqlock reader that finds a write in
// progress. A write is a copy of at most a few kilobytes, so a reader
// spins first, then yields (on two cores the writer may need this one),
// then takes the lock, which waits for the writer and takes over from one
// that died mid-write (Lock repairs seq), and releases it at once. It
// returns what taking the lock returned: ctx's error, or
// ErrNotRecoverable.
const (
	readSpin  = 64
	readYield = 1024
)

func (c *Cell) readWait(ctx context.Context, i int) error {
	switch {
	case i < readSpin:
	case i%readYield != readYield-1:
		runtime.Gosched()
	default:
		if err := c.Acquire(ctx); err != nil {
			return err
		}
		c.Unlock()
	}
	return nil
}

// handle is what GobEncode writes: where the object is and what it holds.
type handle struct {
	Seg  shm.Handle
	Name string
	Kind shm.Kind
	Type shm.TypeID
	Raw  bool
}

// GobEncode encodes the cell's handle: segment handle, object name, kind,
// element type fingerprint and variant.
func (c *Cell) GobEncode() ([]byte, error) {
	if c.closed {
		return nil, fmt.Errorf("%v: a closed %s cannot be handed on (close it after process.Start)", c.Spec.Kind, c.typeName())
	}
	sh, err := c.Obj.Segment.Handle()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = gob.NewEncoder(&b).Encode(handle{Seg: sh, Name: c.Obj.Name, Kind: c.Spec.Kind, Type: c.Spec.Type, Raw: c.Spec.Raw})
	return b.Bytes(), err
}

// Decode attaches to the segment of a handle GobEncode wrote (shm.Attach:
// one mapping per process) and opens the object, which must be what sp
// says (shm.ErrIncompatible otherwise).
func Decode(b []byte, sp Spec) (*Cell, error) {
	var h handle
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&h); err != nil {
		return nil, err
	}
	if h.Kind != sp.Kind || h.Type != sp.Type || h.Raw != sp.Raw {
		got := Spec{h.Kind, h.Type, h.Raw}
		return nil, fmt.Errorf("%w: handle of %q is a %s of element type %v, receiver is a %s of %v", shm.ErrIncompatible, h.Name, got.variant(), h.Type, sp.variant(), sp.Type)
	}
	seg, err := shm.Attach(h.Seg)
	if err != nil {
		return nil, err
	}
	c, err := Open(seg, h.Name, sp)
	if err != nil {
		seg.Close() // drops this attachment's reference
		return nil, err
	}
	c.hold = seg // Close drops the attachment
	return c, nil
}
