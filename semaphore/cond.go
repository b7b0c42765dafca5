package semaphore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// The Cond's sequence word is the futex word:
//
//	bits 0-30     the sequence, moved by every Signal, Notify and Broadcast
//	condSleeping  a waiter parks (or is about to) on the word
//
// Transitions: seq -> seq+1 (Notify and Broadcast, a CAS, so that the
// sequence wraps within its 31 bits and never carries into the mark);
// seq -> seq|condSleeping (a waiter before it parks, CAS, having counted
// itself in sleepers first). The mark is in the word that a notification
// replaces, not only in the sleepers word beside it, because nothing of
// the Cond may be read after that CAS: a waiter of this process that sees
// the sequence move may return from Wait (the notifier need not hold L),
// finish with the Cond and unmap its memory before the notifier's next
// instruction (see wakeReleased). So a notification learns whether to
// wake from the word its CAS replaced.
//
// Who clears the mark: Broadcast, which wakes every sleeper; and a Notify
// that found no waiter counted in sleepers (loaded before its CAS), which
// then wakes every sleeper too, since one that counted itself after that
// load may have parked before the CAS. A Notify that finds waiters counted
// keeps the mark and wakes n, as the count alone decided before: those it
// does not wake stay parked on the marked word, and the next notification
// wakes n again. A waiter killed while parked stays counted, and the mark
// then costs every Notify a wake, as the count alone did.
const (
	condSeq      = 1<<31 - 1
	condSleeping = 1 << 31
)

// Cond is a condition variable shared between processes (Python's
// multiprocessing Condition), bound to a shmkit Mutex L: its own (NewCond,
// CreateCond) or one the caller made (NewCondFor, CreateCondFor: Python's
// Condition(lock)). It is a sequence futex: Wait reads the sequence word
// while holding L, unlocks L and sleeps until the word moves; Signal,
// Notify and Broadcast move it. A notification made after a waiter read
// the word always wakes it, so no wake-up is lost.
//
// Wait returns only after a notification (or the end of its context),
// never spuriously; still call it in a loop that re-checks the condition,
// or use WaitFor, which does: Signal wakes at least one waiter (several
// when they share a process), Notify(n) at least n, and another may change
// the state first.
//
// A waiter killed while parked holds nothing: the others are not affected
// (the kernel drops it from the futex queue; the sleepers count stays one too
// high, which costs Signal a system call). A waiter killed after it woke and
// re-took L is a dead holder of L: the next locker gets ErrOwnerDead (or,
// through the plain Lock and Wait, takes L over silently).
//
// The handle must not be copied after first use.
type Cond struct {
	_ noCopy
	// L is held while observing or changing the condition. Every process
	// finds the same Mutex here: the Cond records which one in shared
	// memory. Do not assign it.
	L        *Mutex
	seq      *atomic.Uint32 // see above; the futex word; moved by Signal/Notify/Broadcast, marked by waiters before parking
	sleepers *atomic.Uint32 // waiters between their spin and their return; read by Notify before its CAS
	lockAt   uint64         // object offset of the named Mutex L in the segment; 0 = L is the Cond's own or NewCondFor's
	ref      ref
	ownL     bool          // L was attached by GobDecode (a NewCondFor Cond's): Close closes it
	spin     spin.Adaptive // this handle's learnt spin (process-local)
}

// NewCond creates a Cond with its own Mutex L (Python's Condition()) in
// this process's heap of shared memory: no segment, no name, no size.
// Small objects share a few anonymous segments (see docs/cells.md); the
// Cond reaches worker processes as an argument of process.Start, with its
// L, as queues do. Close gives it up. It returns shm.ErrNoSpace when the
// memory of a new heap segment cannot be reserved (a memfd: /dev/shm's
// size does not bound it).
func NewCond() (*Cond, error) { return place(shm.KindCond, CondSize, InitCond) }

// NewCondFor creates a Cond whose L is m (Python's Condition(lock)), in
// this process's heap as NewCond does: code that already guards its state
// with m waits on the Cond under m. m is any Mutex but an embedded one
// (NewMutex's, CreateMutex's, a decoded handle's) and must stay open while
// the Cond is used. A worker that receives the Cond gets m as its L too
// (the Cond's handle carries m's), whether or not it receives m itself.
func NewCondFor(m *Mutex) (*Cond, error) {
	if m == nil || m.ref.seg == nil {
		return nil, errors.New("semaphore: NewCondFor needs a Mutex of its own (NewMutex, CreateMutex, OpenMutex), not an embedded one")
	}
	if m.ref.closed {
		return nil, errors.New("semaphore: NewCondFor of a closed Mutex")
	}
	c, err := NewCond()
	if err != nil {
		return nil, err
	}
	c.L = m
	return c, nil
}

// CreateCond creates a Cond called name in seg, with its own Mutex L (kind
// shm.KindCond).
func CreateCond(seg *shm.Segment, name string) (*Cond, error) {
	return create(seg, name, shm.KindCond, CondSize, InitCond)
}

// CreateCondFor creates a Cond called name in seg whose L is m, a named Mutex
// of the same segment (Python's Condition(lock)): code that already guards
// its state with m waits on the Cond under m. Every process that opens the
// Cond, or receives it as a worker argument, gets m as its L.
func CreateCondFor(seg *shm.Segment, name string, m *Mutex) (*Cond, error) {
	if m == nil || m.ref.seg == nil {
		return nil, errors.New("semaphore: CreateCondFor needs a named Mutex (CreateMutex, OpenMutex), not an embedded one")
	}
	if m.ref.seg != seg {
		return nil, fmt.Errorf("semaphore: CreateCondFor: Mutex %q lives in another segment", m.ref.name)
	}
	o, err := lookup(seg, m.ref.name, shm.KindMutex, MutexSize)
	if err != nil {
		return nil, err
	}
	c, err := create(seg, name, shm.KindCond, CondSize, func(mem []byte) (*Cond, error) {
		c, err := InitCond(mem)
		if err == nil {
			putLE64(mem[condOffLock:], uint64(o.Offset))
			c.lockAt = uint64(o.Offset)
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	c.L = m
	return c, nil
}

// OpenCond opens the Cond called name in seg, and the Mutex it is bound to.
func OpenCond(seg *shm.Segment, name string) (*Cond, error) {
	c, err := open(seg, name, shm.KindCond, CondSize, condAt)
	if err != nil {
		return nil, err
	}
	if err := c.bindLock(); err != nil {
		return nil, fmt.Errorf("%v %q: %w", shm.KindCond, name, err)
	}
	return c, nil
}

// InitCond writes a Cond and its Mutex into the first CondSize bytes of mem
// (8-byte aligned) for an object that embeds one.
func InitCond(mem []byte) (*Cond, error) {
	r, err := region(mem, CondSize, "Cond")
	if err != nil {
		return nil, err
	}
	clear(r)
	if _, err := InitMutex(r[condOffMutex:]); err != nil {
		return nil, err
	}
	putLE32(r[condOffMagic:], magicCond)
	return CondAt(r)
}

// CondAt returns a handle on the Cond InitCond wrote at mem. A Cond made by
// CreateCondFor is refused here: its Mutex is found by OpenCond.
func CondAt(mem []byte) (*Cond, error) {
	c, err := condAt(mem)
	if err == nil && c.lockAt != 0 {
		return nil, fmt.Errorf("%w: the Cond is bound to a named Mutex: open it with OpenCond", ErrIncompatible)
	}
	return c, err
}

func condAt(mem []byte) (*Cond, error) {
	r, err := region(mem, CondSize, "Cond")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, condOffMagic, magicCond, "Cond"); err != nil {
		return nil, err
	}
	m, err := MutexAt(r[condOffMutex:])
	if err != nil {
		return nil, err
	}
	seq, err := atomics.Uint32At(r, condOffSeq)
	if err != nil {
		return nil, err
	}
	sl, err := atomics.Uint32At(r, condOffSleepers)
	if err != nil {
		return nil, err
	}
	return &Cond{L: m, seq: seq, sleepers: sl, lockAt: le64(r[condOffLock:])}, nil
}

// bindLock makes L the named Mutex a CreateCondFor Cond records, found by its
// object offset in the Cond's segment.
func (c *Cond) bindLock() error {
	if c.lockAt == 0 {
		return nil
	}
	for _, info := range c.ref.seg.Objects() {
		if info.Err == nil && uint64(info.Offset) == c.lockAt {
			m, err := OpenMutex(c.ref.seg, info.Name)
			if err != nil {
				return fmt.Errorf("%w: bound to object %q: %w", ErrCorrupt, info.Name, err)
			}
			c.L = m
			return nil
		}
	}
	return fmt.Errorf("%w: bound to a Mutex at offset %d, where the segment has no object", ErrCorrupt, c.lockAt)
}

// Wait unlocks c.L, waits for a notification made after it unlocked and
// locks c.L again before returning, with c.L's Lock: a holder of L that
// died is taken over silently, and an L that is not recoverable panics.
// The caller must hold c.L. WaitContext gives up and reports.
func (c *Cond) Wait() {
	c.park(context.Background())
	c.L.Lock()
}

// WaitContext unlocks c.L, waits for a notification made after it
// unlocked (never returning spuriously) or the end of ctx, and locks c.L
// again before returning — always, even when ctx has ended, as Python's
// Condition.wait does. The caller must hold c.L.
//
// It returns nil, or ctx's error with L held; or, from re-locking L,
// ErrOwnerDead (L held; the previous holder died) or ErrNotRecoverable (L
// not held). A notification that came as ctx ended wins: nil (Signal may
// have woken this waiter and no other).
func (c *Cond) WaitContext(ctx context.Context) error {
	werr := c.park(ctx)
	if err := c.L.LockContext(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	return werr
}

// park is the waiting half of Wait: it unlocks L and sleeps until the
// sequence moves or ctx ends.
func (c *Cond) park(ctx context.Context) error {
	s := c.seq.Load() & condSeq // observes: the sequence, under L
	c.L.Unlock()
	moved := func() bool { return c.seq.Load()&condSeq != s }
	// The shared wait of package spin: one load of seq a look. A spinner
	// is not counted in sleepers: a notification's bump is all it needs.
	spell, ok := c.spin.Spin(waitRounds, spin.Yielding, moved)
	if ok {
		raceAcquire(c.seq)
		return nil
	}
	c.sleepers.Add(1) // before the mark: a Notify that loads sleepers before its CAS keeps the mark (see condSleeping)
	var err error
	learn := true
	for err == nil { // Await may return early: only a notification ends the wait
		v := c.seq.Load()
		if v&condSeq != s {
			break
		}
		if v&condSleeping == 0 {
			if !c.seq.CompareAndSwap(v, v|condSleeping) { // seq -> seq, a waiter sleeping
				continue
			}
			v |= condSleeping
		}
		t0 := spin.Now()
		err = atomics.Await(ctx, c.seq, v, &parkNow)
		if learn {
			c.spin.Parked(spell, t0, err == nil && moved())
			learn = false
		}
	}
	if err != nil && moved() {
		// Notified as ctx ended: the notification wins. Its wake may be
		// what woke this waiter (Signal wakes one), and it must not be
		// lost with a report of ctx's end.
		err = nil
	}
	raceAcquire(c.seq)
	c.sleepers.Add(^uint32(0))
	return err
}

// WaitFor waits, as Wait does, until pred returns true (Python's
// wait_for). pred is called with c.L held, first before any wait. The
// caller must hold c.L, and holds it when WaitFor returns.
func (c *Cond) WaitFor(pred func() bool) {
	for !pred() {
		c.Wait()
	}
}

// WaitForContext waits, as WaitContext does, until pred returns true or
// ctx ends. It returns nil when pred returned true (checked once more
// after ctx ended), ctx's error when it did not, both with c.L held; or
// WaitContext's errors from re-locking L.
func (c *Cond) WaitForContext(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.WaitContext(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) && pred() {
				return nil
			}
			return err
		}
	}
	return nil
}

// Signal wakes at least one goroutine waiting on c, if any (Python's
// notify()). The caller may but need not hold c.L.
func (c *Cond) Signal() { c.Notify(1) }

// Notify wakes at least n goroutines waiting on c, or all of them if fewer
// wait (Python's notify(n)); n <= 0 wakes none. The caller may but need not
// hold c.L.
func (c *Cond) Notify(n int) {
	if n <= 0 {
		return
	}
	// One futex sleeper per process wakes every goroutine of it that
	// waits: waking n sleepers wakes at least n waiters.
	c.notify(min(n, 1<<30))
}

// Broadcast wakes every goroutine waiting on c (Python's notify_all()).
func (c *Cond) Broadcast() { c.notify(-1) }

// notify moves the sequence and, if a waiter marked the word, wakes n of
// the sleepers (-1: all). Nothing of the Cond, nor of the handle, is read
// after the CAS (see condSleeping).
func (c *Cond) notify(n int) {
	seq, sleepers := c.seq, c.sleepers
	raceRelease(seq)
	for {
		keep := uint32(0) // the mark stays while the sleepers it may not wake are counted
		if n > 0 && sleepers.Load() != 0 {
			keep = condSleeping
		}
		v := seq.Load()
		if !seq.CompareAndSwap(v, (v+1)&condSeq|v&keep) { // publishes: a notification; seq -> seq+1
			continue
		}
		if notifyHook != nil {
			notifyHook()
		}
		if v&condSleeping != 0 {
			if keep == 0 {
				n = -1 // the mark goes: wake every sleeper it stood for
			}
			wakeReleased(seq, n)
		}
		return
	}
}

// notifyHook, nil but in tests, runs in Notify and Broadcast right after
// the atomic that moves the sequence: a test places there what a waiter
// that saw it move may do in that gap (return from Wait, unmap the Cond).
var notifyHook func()

// Close gives up this handle's hold on shared memory, as Mutex.Close does
// (and that of the L a worker's decoded handle attached with it: not the
// Mutex given to NewCondFor in this process). It does not unlock L.
// Close is idempotent; the Cond must not be used after it: a call after
// it panics, and GobEncode returns an error.
func (c *Cond) Close() error {
	l, own := c.L, c.ownL
	err := closeHandle(c, &c.ref)
	if own {
		c.ownL = false
		if lerr := l.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

// GobEncode encodes the Cond's handle (with its L's, for NewCondFor's).
func (c *Cond) GobEncode() ([]byte, error) {
	w, err := c.ref.wire("Cond")
	if err != nil {
		return nil, err
	}
	if c.lockAt == 0 && c.L.ref.seg != nil { // L is NewCondFor's m
		l, err := c.L.ref.wire("Mutex")
		if err != nil {
			return nil, err
		}
		w.Lock = &l
	}
	return encodeWire(w)
}

// GobDecode attaches the Cond that GobEncode named, and its Mutex.
func (c *Cond) GobDecode(b []byte) error {
	w, err := decodeWire(b, shm.KindCond)
	if err != nil {
		return err
	}
	if w.Lock == nil {
		if err := decode(c, b, shm.KindCond, CondSize, condAt); err != nil {
			return err
		}
		if err := c.bindLock(); err != nil {
			c.ref.close()
			return err
		}
		return nil
	}
	lo, err := w.Lock.attach(shm.KindMutex, MutexSize)
	if err != nil {
		return fmt.Errorf("the Mutex of a Cond: %w", err)
	}
	m, err := MutexAt(lo.Body)
	if err == nil {
		err = decode(c, b, shm.KindCond, CondSize, condAt)
	}
	if err != nil {
		lo.Segment.Close()
		return err
	}
	m.adopt(m, ref{seg: lo.Segment, name: lo.Name, kind: shm.KindMutex, hold: lo.Segment})
	c.L, c.ownL = m, true
	return nil
}

// adopt takes the words of from (a view of the same memory) and records r.
func (c *Cond) adopt(from *Cond, r ref) {
	c.L, c.seq, c.sleepers, c.lockAt, c.ref = from.L, from.seq, from.sleepers, from.lockAt, r
}
