package semaphore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// The Barrier's phase word is the futex word the parties sleep on:
//
//	phase = generation<<2 | bReset | bBroken
//
//	generation g, clean        parties arrive; count says how many
//	g | bBroken                broken: Abort, a party gave up (ctx), or a
//	                           party died inside the barrier's lock; every
//	                           Wait fails with ErrBroken until Reset
//	(g+1), clean               the last party arrived: released (count = 0)
//	(g+1) | bReset             Reset: the waiters of g fail with ErrBroken,
//	                           the barrier is usable again
//
// Arrivals happen under lock, a robust Mutex; waiting does not hold it. A
// waiter of generation g succeeds exactly when the phase's first move from
// g is to (g+1) without bReset: its release. A waiter looks when it runs,
// and may look late (its process stopped, or more callers than parties,
// which fill the next generation first): what it finds then need not be
// that move. At (g+1) the phase still tells, by bReset, whether or not
// (g+1) has broken since. At (g+2) or later only the resets word can: a
// mover out of (g+1) that finds bReset there (g was reset, or broken and
// reset) logs g in it, under lock and before its CAS, and the waiter
// reads it there (see released).
//
// A move of the phase is decided under lock and made after it: the mover
// releases the lock, then moves the phase with a CAS, and that CAS is its
// last access to the barrier. A waiter returns from Wait as soon as it sees
// the phase move, without the lock, and may finish with the barrier and
// unmap it (as a sync.Mutex may be freed once unlocked); the wake after
// the CAS tolerates memory that is gone (wakeReleased). Between the lock's
// release and the CAS the generation is shut: the release and Reset clear
// count and the party table for the next generation under lock, and there
// also write their process to closer, then p+1 to closing (p the phase they
// move from). The last party shuts its generation the same way while it
// runs the action, the lock released (count = parties, the party table
// kept: the generation's waiters wait on). An arrival that finds closing
// = phase+1 does not arrive in generation g (which has all its parties,
// or is being reset) but waits for the move and arrives in the next, as
// Python's arrival waits for the lock its action holds, or for the drain;
// a waiter whose check finds the closer dead breaks the barrier, as for a
// dead party, and so does the arrival waiting for the move. A count of
// parties or more in a generation that is not shut is a peer's garbage:
// the arrival that finds it breaks the barrier. A break needs no
// shutting: a party that arrives before its CAS is a waiter the break
// fails. Moves decided at once (a break beside a release or a Reset, a
// Reset beside a release) race with their CASes from the same p: the first
// wins, and the others go by the phase it made.
const (
	bBroken = 1
	bReset  = 2
	bGen    = 4 // one generation
)

// Barrier makes a fixed number of parties wait for each other (Python's
// multiprocessing Barrier): each Wait blocks until all n have called it,
// then all return, and the barrier is ready for the next phase.
//
// A party whose ctx ends while waiting breaks the barrier, as a Python
// party that times out does: it and every other waiter get ErrBroken, and so
// do later Waits until Reset. A process that dies with parties waiting
// breaks it too, if its death is found before the barrier trips (a dead
// party still counts as arrived, so the last arrival may release the
// others first): each waiting process is recorded in the barrier (8
// slots; the processes beyond them wait unrecorded), and the waiters look
// for a dead one, or a dead holder of the barrier's short critical
// section, every 50 ms, so that they get ErrBroken instead of waiting
// forever. A party that dies inside that critical section leaves its lock
// to the next party to take it, which breaks the barrier too, and so does
// a last party (or Reset) that dies after that section but before its
// release is made, in the action or after it: the waiters find it dead at
// the same check. A party that arrives while the last party runs the
// action, or while the generation is released or reset, is not one too
// many: it waits, and arrives in the next generation. That lock
// held longer than two seconds (its word garbage a peer wrote, naming a
// live process) makes Wait, Abort and Reset return an error matching
// ErrBroken and ErrCorrupt rather than wait for ever, and breaks the
// barrier, so that the parties waiting fail too.
//
// The handle must not be copied after first use.
type Barrier struct {
	_       noCopy
	lock    *Mutex
	phase   *atomic.Uint32               // see above; moved by CAS after the lock's release; the futex word
	count   *atomic.Uint32               // parties arrived in this generation; under lock
	parties uint32                       // fixed at creation
	slots   [barSlots]procSlot           // processes with parties waiting in this generation; under lock
	closing *atomic.Uint32               // p+1 while a release or Reset moves the phase from p, or the action runs (see above); written under lock, read by checkParties too
	closer  *atomic.Uint64               // procinfo word of that mover's process, written before closing; the same
	resets  *atomic.Uint64               // the generations that ended by a Reset (see logReset); written under lock by a mover, read by late waiters
	checked atomic.Int64                 // when (since processStart) a waiter of this handle last looked for the dead
	action  atomic.Pointer[func() error] // this handle's action (SetAction); process-local
	ref     ref
	spin    spin.Adaptive // this handle's learnt spin (process-local)
}

// SetAction makes fn the barrier's action (Python's Barrier(parties,
// action)): when the last party arrives, fn runs in that party's goroutine,
// once per generation and before any party is released; a party that
// arrives while it runs waits and arrives in the next generation (Python
// runs the action under the barrier's lock). If fn returns an
// error or panics, the barrier breaks: the other parties get ErrBroken, the
// last party's Wait returns an error matching ErrBroken that wraps fn's
// error (or panics on with fn's panic).
//
// A Go func cannot travel to another process: the action belongs to this
// handle, and runs when a Wait of this handle is the last to arrive. The
// last party's handle decides; one without an action releases the others
// at once. Where any process may arrive last, set the same action on every
// process's handle (a worker sets it on the Barrier it receives). fn nil
// removes the action.
func (b *Barrier) SetAction(fn func() error) {
	if fn == nil {
		b.action.Store(nil)
		return
	}
	b.action.Store(&fn)
}

// NewBarrier creates a Barrier for n parties (Python's Barrier(n))
// in this process's heap of shared memory: no segment,
// no name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the handle reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func NewBarrier(n int) (*Barrier, error) {
	return place(shm.KindBarrier, BarrierSize, func(mem []byte) (*Barrier, error) {
		return InitBarrier(mem, n)
	})
}

// CreateBarrier creates a Barrier for n parties called name in seg (kind
// shm.KindBarrier).
func CreateBarrier(seg *shm.Segment, name string, n int) (*Barrier, error) {
	return create(seg, name, shm.KindBarrier, BarrierSize, func(mem []byte) (*Barrier, error) {
		return InitBarrier(mem, n)
	})
}

// OpenBarrier opens the Barrier called name in seg.
func OpenBarrier(seg *shm.Segment, name string) (*Barrier, error) {
	return open(seg, name, shm.KindBarrier, BarrierSize, BarrierAt)
}

// InitBarrier writes a Barrier for n parties into the first BarrierSize
// bytes of mem (8-byte aligned) for an object that embeds one.
func InitBarrier(mem []byte, n int) (*Barrier, error) {
	if n < 1 || n > math.MaxInt32 {
		return nil, fmt.Errorf("semaphore: barrier of %d parties", n)
	}
	r, err := region(mem, BarrierSize, "Barrier")
	if err != nil {
		return nil, err
	}
	clear(r)
	if _, err := InitMutex(r[barOffLock:]); err != nil {
		return nil, err
	}
	putLE32(r[barOffParties:], uint32(n))
	putLE32(r[barOffMagic:], magicBarrier)
	return BarrierAt(r)
}

// BarrierAt returns a handle on the Barrier InitBarrier wrote at mem.
func BarrierAt(mem []byte) (*Barrier, error) {
	r, err := region(mem, BarrierSize, "Barrier")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, barOffMagic, magicBarrier, "Barrier"); err != nil {
		return nil, err
	}
	n := le32(r[barOffParties:])
	if n < 1 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: barrier of %d parties", shm.ErrCorrupt, n)
	}
	b := &Barrier{parties: n}
	if b.lock, err = MutexAt(r[barOffLock:]); err != nil {
		return nil, err
	}
	if b.phase, err = atomics.Uint32At(r, barOffPhase); err != nil {
		return nil, err
	}
	if b.count, err = atomics.Uint32At(r, barOffCount); err != nil {
		return nil, err
	}
	if b.closing, err = atomics.Uint32At(r, barOffClosing); err != nil {
		return nil, err
	}
	if b.closer, err = atomics.Uint64At(r, barOffCloser); err != nil {
		return nil, err
	}
	if b.resets, err = atomics.Uint64At(r, barOffResets); err != nil {
		return nil, err
	}
	if err := bindSlots(r, barOffSlots, b.slots[:]); err != nil {
		return nil, err
	}
	return b, nil
}

// Parties returns the number of parties the barrier waits for.
func (b *Barrier) Parties() int { return int(b.parties) }

// Waiting returns the number of parties waiting in the current generation.
func (b *Barrier) Waiting() int { return int(b.count.Load()) }

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool { return b.phase.Load()&bBroken != 0 }

// enterWait bounds a wait for the barrier's lock, which a party holds
// for a few instructions only: held longer, the lock word is garbage a
// peer wrote (or names a stopped process), and waiting would be for ever.
// A variable for tests.
var enterWait = 2 * time.Second

// enter takes the barrier's lock. A party that died holding it may have
// left count wrong: enter repairs the lock and reports died, and the
// caller breaks the barrier (or resets it). It waits at most enterWait,
// whether or not ctx has ended, and then returns an error matching
// ErrBroken and ErrCorrupt without the lock.
func (b *Barrier) enter(ctx context.Context) (died bool, err error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enterWait)
	defer cancel()
	err = b.lock.LockContext(lctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w: its lock held by process %d for over %v", ErrBroken, ErrCorrupt, b.lock.Owner().Pid, enterWait)
		b.breakStuck()
		return false, err
	}
	if errors.Is(err, ErrOwnerDead) {
		b.lock.MarkConsistent()
		return true, nil
	}
	return false, err
}

// breakStuck breaks the barrier for a caller that could not take its lock
// (see enter) and reports ErrBroken: the parties already waiting would
// otherwise wait for ever for one that was told the barrier is broken and
// will not come. A break needs no lock (see phase): it is the CAS a move
// makes, and the holder's own move from the same phase, if it ever comes,
// fails and goes by the broken phase. That CAS is the caller's last access
// to the barrier.
func (b *Barrier) breakStuck() {
	phase := b.phase
	for {
		p := phase.Load()
		if p&bBroken != 0 {
			return
		}
		if phase.CompareAndSwap(p, p|bBroken) { // publishes: the break; g -> g|broken
			wakeReleased(phase, -1)
			return
		}
	}
}

// shut closes generation p to arrivals until the phase moves from p, for a
// release, Reset or last party about to run the action that holds the
// lock (see phase).
func (b *Barrier) shut(p uint32) {
	b.closer.Store(procinfo.Self().Word()) // first: checkParties reads closing, then closer
	b.closing.Store(p + 1)
}

// move releases the lock and moves the phase from p to np, waking every
// waiter. It reports whether it moved it: false when another mover moved
// the phase from p first, between the lock's release and the CAS. Nothing
// of the barrier, nor of the handle, is read after the CAS (see phase).
func (b *Barrier) move(p, np uint32) bool {
	phase := b.phase
	b.lock.Unlock()
	if moveGapHook != nil {
		moveGapHook()
	}
	if !phase.CompareAndSwap(p, np) { // publishes: the release, the break or the reset
		return false
	}
	if phaseHook != nil {
		phaseHook()
	}
	wakeReleased(phase, -1)
	return true
}

// release moves the phase from p, whose last party holds the lock, to the
// next generation; false if a break or Reset moved it first.
func (b *Barrier) release(p uint32) bool {
	if p&bReset != 0 {
		b.logReset(p)
	}
	b.count.Store(0)
	b.clearSlots()
	b.shut(p)
	return b.move(p, p&^(bReset|bBroken)+bGen) // g -> g+1: the release (and the action's work)
}

// phaseHook, nil but in tests, runs in move right after the CAS that moves
// the phase: a test places there what a party that saw it move may do in
// that gap (return from Wait, unmap the Barrier).
var phaseHook func()

// moveGapHook, nil but in tests, runs in move between the lock's release
// and the CAS: a test kills the mover there, or arrives while it is shut.
var moveGapHook func()

// Wait waits, as long as it takes, until all parties have called Wait, and
// returns this party's arrival index, 0 to Parties()-1 (the last to arrive
// gets Parties()-1). It returns ErrBroken if the barrier is or becomes
// broken: by Abort, by a party whose context ended, by a failing action,
// or by a process that died with parties waiting (found within about
// 50 ms). A party that runs only after its generation was released (its
// process stopped, or other goroutines filled the next generation first)
// gets its release however far the barrier has moved on, unless a Reset
// 32 generations or more after its own came first: it then cannot tell,
// and gets ErrBroken.
func (b *Barrier) Wait() (int, error) { return b.WaitContext(context.Background()) }

// WaitContext is Wait giving up when ctx ends: the barrier is then broken
// for every party, as Python's does on a timeout, and this party's error
// matches both ErrBroken and ctx's error. A party whose ctx ends before it
// could arrive, while the generation before it is released, reset or runs
// its action, never arrived: it breaks nothing and returns ctx's error
// alone (Python's party cannot give up there: it waits for the lock the
// action holds).
func (b *Barrier) WaitContext(ctx context.Context) (int, error) {
	raceRelease(b.phase)
	idx, err := b.wait(ctx)
	raceAcquire(b.phase)
	return idx, err
}

func (b *Barrier) wait(ctx context.Context) (int, error) {
	for {
		died, err := b.enter(ctx)
		if err != nil {
			return 0, err
		}
		p := b.phase.Load()
		switch {
		case p&bBroken != 0:
			b.lock.Unlock()
			return 0, ErrBroken
		case died:
			b.move(p, p|bBroken) // g -> g|broken
			return 0, ErrBroken
		case b.closing.Load() == p+1: // shut (released, reset, or running the action): this party belongs to the next generation
			b.lock.Unlock()
			if _, err := b.await(ctx, p); err != nil {
				if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
					// Its ctx ended before it could arrive: it breaks
					// nothing. Generation p has all its parties (or is
					// being reset), and breaking it gave each of them a
					// false ErrBroken.
					return 0, err
				}
				if err := b.giveUp(ctx, p, err); err != nil { // the mover died, or garbage shut p: p never moves
					return 0, err
				}
			}
			continue
		}
		idx := b.count.Load()
		if idx >= b.parties { // full, and not shut: garbage from a peer
			b.move(p, p|bBroken) // g -> g|broken
			return 0, fmt.Errorf("%w: %w: %d parties counted of %d", ErrBroken, ErrCorrupt, idx, b.parties)
		}
		if idx+1 == b.parties {
			if act := b.action.Load(); act != nil {
				return b.trip(ctx, p, idx, *act)
			}
			if !b.release(p) {
				return int(idx), ErrBroken // broken or reset first
			}
			return int(idx), nil
		}
		b.count.Store(idx + 1)
		b.record()
		b.lock.Unlock()
		np, err := b.await(ctx, p)
		switch {
		case err != nil: // ctx ended, or a party died: break the barrier for everyone
			return int(idx), b.giveUp(ctx, p, err)
		case !b.released(p, np):
			return int(idx), ErrBroken
		}
		return int(idx), nil
	}
}

// await waits until the phase moves from p and returns what it moved to:
// the shared wait of package spin (one load of phase a look), then a park
// with the liveness poll. It returns ctx's error, or the poll's partyDied,
// if the phase was still p when it ended.
func (b *Barrier) await(ctx context.Context, p uint32) (uint32, error) {
	spell, moved := b.spin.Spin(waitRounds, spin.Yielding, func() bool { return b.phase.Load() != p })
	opts := atomics.WaitOptions{Poll: mutexPoll, Check: b.checkParties, Spin: 1}
	for learn := true; ; learn = false {
		var err error
		if !moved {
			t0 := spin.Now()
			err = atomics.Await(ctx, b.phase, p, &opts)
			if learn { // from the park that followed the spin only
				b.spin.Parked(spell, t0, err == nil && b.phase.Load() != p)
			}
		}
		if np := b.phase.Load(); np != p { // observes: release, break or reset
			return np, nil
		}
		if err != nil {
			return p, err
		}
	}
}

// giveUp breaks generation p for a party whose wait for it ended (why: ctx
// ended, or a dead party found), unless the phase has moved since: it
// returns nil if p was released meanwhile, else an error matching
// ErrBroken and why.
func (b *Barrier) giveUp(ctx context.Context, p uint32, why error) error {
	died, err := b.enter(ctx)
	if err != nil {
		return err
	}
	np := b.phase.Load()
	ok := np != p && b.released(p, np) // before a move of ours: nothing is read after its CAS
	switch {
	case np == p: // still waiting: break it
		if !b.move(p, p|bBroken) { // g -> g|broken
			ok = b.released(p, b.phase.Load()) // moved by another after the lock's release
		}
	case died && np&bBroken == 0: // count unsure: break it
		b.move(np, np|bBroken) // g' -> g'|broken
	default:
		b.lock.Unlock()
	}
	if ok {
		return nil // released just in time
	}
	return fmt.Errorf("%w: %w", ErrBroken, why)
}

// trip runs the action of the last party to arrive, whose Wait holds the
// lock and found the barrier in phase p with idx parties before it, then
// releases the generation, or breaks it if the action failed. The action
// runs with the lock released and the generation shut: an arrival waits
// for the move and arrives in the next generation, as a Python arrival
// waits for the lock the action holds; the closer word names this process,
// whatever the party table holds, so that the waiters, and such an
// arrival, find it dead if it dies in the action.
func (b *Barrier) trip(ctx context.Context, p, idx uint32, act func() error) (int, error) {
	b.count.Store(b.parties) // full, for Waiting
	b.shut(p)
	b.lock.Unlock()
	panicked, pv, err := runAction(act)
	raceRelease(b.phase) // the action's writes come before the release the others acquire
	died, lerr := b.enter(ctx)
	if lerr != nil {
		if panicked {
			panic(pv)
		}
		return int(idx), lerr
	}
	switch np := b.phase.Load(); {
	case np != p: // broken or reset while the action ran
		if died && np&bBroken == 0 {
			b.move(np, np|bBroken) // g' -> g'|broken: count unsure
		} else {
			b.lock.Unlock()
		}
		err = ErrBroken
	case died || panicked || err != nil:
		b.move(p, p|bBroken) // g -> g|broken
		if err != nil {
			err = fmt.Errorf("%w: the action failed: %w", ErrBroken, err)
		} else if !panicked {
			err = ErrBroken
		}
	default:
		if !b.release(p) {
			err = ErrBroken // broken or reset while the lock was free
		}
	}
	if panicked {
		panic(pv)
	}
	return int(idx), err
}

// runAction calls act, catching a panic so that the barrier can be broken
// before it goes on.
func runAction(act func() error) (panicked bool, pv any, err error) {
	panicked = true
	defer func() {
		if panicked {
			pv = recover()
		}
	}()
	err = act()
	panicked = false
	return false, nil, err
}

// Abort breaks the barrier: current and later Waits fail with ErrBroken
// until Reset.
func (b *Barrier) Abort() error {
	for {
		if _, err := b.enter(context.Background()); err != nil {
			return err
		}
		p := b.phase.Load()
		if p&bBroken != 0 {
			b.lock.Unlock()
			return nil
		}
		if b.move(p, p|bBroken) { // g -> g|broken
			return nil
		}
		// released or reset after the lock's release: break the next generation
	}
}

// Reset returns the barrier to its initial state: parties waiting now fail
// with ErrBroken, and the barrier is usable again.
func (b *Barrier) Reset() error {
	for {
		// A party dead in the lock left count unsure: the reset clears it.
		if _, err := b.enter(context.Background()); err != nil {
			return err
		}
		p := b.phase.Load()
		if p&bReset != 0 {
			b.logReset(p)
		}
		b.count.Store(0)
		b.clearSlots()
		b.shut(p)
		if b.move(p, p&^(bReset|bBroken)+bGen|bReset) { // g -> g+1|reset
			return nil
		}
		// released or broken after the lock's release: reset from there
	}
}

// Close gives up this handle's hold on shared memory: the heap object of
// NewBarrier (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Barrier
// from CreateBarrier or OpenBarrier lives in the caller's segment, which Close
// leaves mapped. Other processes' handles are not affected. Close
// is idempotent; the Barrier must not be used after it, nor while a call on
// it runs in another goroutine: a call after it panics (the handle no
// longer points at the shared memory), and GobEncode returns an error.
func (b *Barrier) Close() error { return closeHandle(b, &b.ref) }

// GobEncode encodes the Barrier's handle (segment, name, kind); a closed
// one is refused.
func (b *Barrier) GobEncode() ([]byte, error) { return b.ref.encode("Barrier") }

// GobDecode attaches the Barrier that GobEncode named.
func (b *Barrier) GobDecode(data []byte) error {
	return decode(b, data, shm.KindBarrier, BarrierSize, BarrierAt)
}

// adopt takes the words of from (a view of the same memory) and records r.
func (b *Barrier) adopt(from *Barrier, r ref) {
	b.lock, b.phase, b.count, b.parties, b.slots, b.ref = from.lock, from.phase, from.count, from.parties, from.slots, r
	b.closing, b.closer, b.resets = from.closing, from.closer, from.resets
}
