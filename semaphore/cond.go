package semaphore

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/shm"
)

// Cond is a condition variable shared between processes, bound to its own
// shmkit Mutex L (Python's multiprocessing Condition). It is a sequence
// futex: Wait reads the sequence word while holding L, unlocks L and sleeps
// until the word moves; Signal and Broadcast move it. A Signal or Broadcast
// made after a waiter read the word always wakes it, so no wake-up is lost.
//
// Wait returns only after a Signal or Broadcast (or the end of its
// context), never spuriously; still call it in a loop that re-checks the
// condition, as with sync.Cond: Signal wakes at least one waiter (several
// when they share a process), and another may change the state first.
//
// A waiter killed while parked holds nothing: the others are not affected
// (the kernel drops it from the futex queue; the sleepers count stays one too
// high, which costs Signal a system call). A waiter killed after it woke and
// re-took L is a dead holder of L: the next locker gets ErrOwnerDead.
//
// The handle must not be copied after first use.
type Cond struct {
	_ noCopy
	// L is held while observing or changing the condition.
	L        *Mutex
	seq      *atomic.Uint32 // bumped by Signal/Broadcast; the futex word
	sleepers *atomic.Uint32 // waiters between reading seq and waking; read by Signal
	ref      ref
}

// NewCond creates a Cond called name in seg, with its Mutex L (kind
// shm.KindCond).
func NewCond(seg *shm.Segment, name string) (*Cond, error) {
	return create(seg, name, shm.KindCond, CondSize, InitCond)
}

// OpenCond opens the Cond called name in seg.
func OpenCond(seg *shm.Segment, name string) (*Cond, error) {
	return open(seg, name, shm.KindCond, CondSize, CondAt)
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

// CondAt returns a handle on the Cond InitCond wrote at mem.
func CondAt(mem []byte) (*Cond, error) {
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
	return &Cond{L: m, seq: seq, sleepers: sl}, nil
}

// Wait unlocks c.L, waits for a Signal or Broadcast made after it unlocked
// (never returning spuriously), or the end of ctx, and locks c.L again
// before returning — always, even
// when ctx has ended, as Python's Condition.wait does. The caller must hold
// c.L.
//
// It returns nil, or ctx's error with L held; or, from re-locking L,
// ErrOwnerDead (L held; the previous holder died) or ErrNotRecoverable (L
// not held).
func (c *Cond) Wait(ctx context.Context) error {
	s := c.seq.Load() // observes: the sequence, under L
	c.L.Unlock()
	c.sleepers.Add(1) // before Await's look at seq: Signal reads it after its Add
	var werr error
	for werr == nil && c.seq.Load() == s { // Await may return early: only a Signal or Broadcast ends the wait
		werr = atomics.Await(ctx, c.seq, s, nil)
	}
	raceAcquire(c.seq)
	c.sleepers.Add(^uint32(0))
	if err := c.L.Lock(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	return werr
}

// Signal wakes at least one goroutine waiting on c, if any. The caller may
// but need not hold c.L.
func (c *Cond) Signal() {
	raceRelease(c.seq)
	c.seq.Add(1) // publishes: a signal
	if c.sleepers.Load() != 0 {
		atomics.Wake(c.seq, 1)
	}
}

// Broadcast wakes every goroutine waiting on c.
func (c *Cond) Broadcast() {
	raceRelease(c.seq)
	c.seq.Add(1) // publishes: a broadcast
	if c.sleepers.Load() != 0 {
		atomics.Wake(c.seq, -1)
	}
}

// GobEncode encodes a named Cond's handle.
func (c *Cond) GobEncode() ([]byte, error) { return c.ref.encode("Cond") }

// GobDecode attaches the Cond that GobEncode named.
func (c *Cond) GobDecode(b []byte) error { return decode(c, b, shm.KindCond, CondSize, CondAt) }

// adopt takes the words of from (a view of the same memory) and records r.
func (c *Cond) adopt(from *Cond, r ref) {
	c.L, c.seq, c.sleepers, c.ref = from.L, from.seq, from.sleepers, r
}
