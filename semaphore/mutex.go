package semaphore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// The Mutex state word is Drepper's three-state futex lock ("Futexes Are
// Tricky", mutex2) with the holder inside the word, as Linux robust futexes
// keep a TID: the lock is never held without its holder recorded, so a dead
// holder can always be found. The holder field (bits 0-29) is the holder's
// PID (bits 0-21) and the low 7 bits of its PID namespace tag (bits 22-28,
// procinfo.NSTag); bit 29 is never set by a holder, so that the all-ones
// field of "not recoverable" names nobody.
//
//	unlocked              0
//	locked                holder                    (nobody sleeps)
//	locked, sleepers      holder | mWaiters         (Unlock must wake one)
//	inconsistent          holder | mOwnerDied [| mWaiters]
//	                      (taken over from a dead holder; MarkConsistent
//	                      clears mOwnerDied, Unlock with it set gives:)
//	unlocked, inconsistent  mOwnerDied [| mWaiters]
//	                      (an RWMutex writer taken over from a dead holder
//	                      gave up, cancelled, before it could repair: the
//	                      next locker gets ErrOwnerDead in turn)
//	not recoverable       mHolderMask [| flags]     (terminal)
//
// Transitions:
//
//	unlocked -> locked                Lock/TryLock fast path: CAS(0, holder)
//	unlocked -> locked, sleepers      a waiter that has slept takes the lock
//	                                  with mWaiters set while the sleepers
//	                                  word counts another waiter past its
//	                                  spin (Drepper sets it always: it
//	                                  cannot know whether others sleep)
//	locked -> locked, sleepers        a waiter announces itself before parking
//	locked* (dead holder) -> inconsistent   a waiter found the holder dead
//	inconsistent -> locked*           MarkConsistent
//	locked* -> unlocked               Unlock; wakes one sleeper if mWaiters
//	inconsistent -> not recoverable   Unlock without MarkConsistent; wakes all
//	inconsistent -> unlocked, inconsistent   releaseInconsistent
//	unlocked, inconsistent -> inconsistent   Lock/TryLock, with ErrOwnerDead
//
// Who is dead: the owner word beside the state word holds the holder's full
// procinfo word (PID, 13-bit namespace tag, start time) once the holder has
// stored it, a few instructions after its CAS; Unlock clears it just before
// its own CAS or plain store. A waiter judges the holder in the state word
// by:
//
//   - another namespace (the 7-bit tag in the state word is not the
//     waiter's): alive, never looked up; a PID of another namespace names
//     some other process here, or none.
//   - the owner word names the same holder (PID and 7-bit tag agree): dead
//     when procinfo.AliveWord says so (start time, full 13-bit tag).
//   - the owner word is absent (the holder is between its CAS and its
//     store, or in Unlock): dead when no process has that PID here, by PID
//     alone. This judgement is made only when the state word's tag is the
//     waiter's own, so a holder of another namespace is never judged by PID;
//     only one whose namespace tag agrees in its low 7 bits but not in all
//     13, caught in that window of a few instructions, could be.
//
// Fairness: as sync.Mutex, a running locker may barge past a waiter, and
// a waiter that has waited mutexStarve gets the lock next. A locker spins
// (package spin's adaptive wait, one load a look, the pause before each
// look doubling while the lock stays busy; mutexRounds looks at first and
// more while the lock comes free soon after), taking the lock if it comes
// free, then parks on the futex through atomics.Await. The back-off makes
// a holder that re-locks at once keep the lock for many turns: each
// hand-over between processes moves the line both ways, the costliest
// thing a contended lock does. A waiter that parks counts itself in the
// sleepers word first; one woken that takes the lock sets WAITERS again
// only while that count says another sleeps, so that a lock handed from
// one process to another does not make a FUTEX_WAKE for nobody at every
// Unlock after a park (Drepper's mutex2 always sets it). An Unlock that
// finds no sleeper counted releases with a plain store rather than a CAS
// (see plainRelease). A parked waiter re-checks the holder's liveness
// every mutexPoll, so a holder killed by SIGKILL is noticed within that.
//
// The starvation bound lives in the want word beside the state word: a
// waiter that finds the lock held after mutexStarve names its process
// there (one at a time, CAS from 0). Every other locker (Lock's and
// TryLock's fast paths load it, on the line they CAS anyway) then leaves
// a free lock alone; the first to find it free wakes every sleeper, so
// that the starving one, perhaps not the one the Unlock woke, comes to
// take it (an Unlock that finds the word set wakes every sleeper itself:
// see releaseWakes), and the starving waiter clears the word once it holds the
// lock (or gives up). A want word that names a dead process is cleared by
// the next locker that finds it; one that nobody acts on within
// mutexWantPatience (a process of another namespace, which cannot be judged dead; a waiter
// stopped) is cleared too: the bound is on unfairness, never a wait for
// a process that cannot come.
const (
	mHolderMask = 1<<30 - 1 // the holder field; all ones means not recoverable
	mPidMask    = 1<<22 - 1 // the holder's PID, within the holder field
	mNSShift    = 22        // the holder's namespace tag, low 7 bits
	mNSMask     = 1<<7 - 1
	mOwnerDied  = 1 << 30
	mWaiters    = 1 << 31

	mNotRecoverable = mHolderMask

	// mutexRounds is the base of a locker's relaxed spin: looks whose
	// pauses double (mutexLookRelax, then twice that, up to mutexLookMax),
	// about 190 Relax pauses in all from the smallest pause (3 to 96),
	// more than twice the relaxed time of the 16 evenly spaced looks of
	// before, in 6 looks instead of 16; a spin that starts at half of a
	// last pause of mutexLookMax (see Lock) makes 128 and then 5 of 256,
	// about 1400 (some 35 µs). Past the base the spin yields the CPU
	// between looks. A longer relaxed spin (16 back-off looks, some 35 µs)
	// measured worse on the loaded 2-core machine (a median 0.57x
	// sync.Mutex against 0.75x, 6 interleaved runs): there the holder
	// often waits for a CPU that the spinner holds.
	mutexRounds = 6
	// mutexLookRelax is the pause, in Relax pauses beyond the one package
	// spin makes, before a locker's first look: a look pulls the line
	// from a holder that locks in a loop, which then misses on its next
	// CAS, and a look that finds the lock free hands it over. Evenly
	// spaced looks every 4 pauses measured a median 0.52x sync.Mutex
	// (19.3 M ops/s) against 0.33x (12.1 M) for every pause (16
	// interleaved runs each on the loaded 2-core machine; noisy: see
	// docs/semaphore.md).
	mutexLookRelax = 3
	// mutexLookMax bounds the back-off of a locker's looks: the pause
	// before a look doubles from mutexLookRelax to this many Relax
	// pauses (about 6 µs at 25 ns a Relax) while the lock stays busy.
	// Each look of a spinner costs a holder that locks in a loop a miss
	// on its next CAS, and each look that falls between its Unlock and
	// its next Lock a hand-over; a lock released for good is seen at most
	// this late, about as long as one Event wake on the 2-core machine. 64
	// (1.6 µs) gave the two-process lock loop a median 31 M ops/s and
	// 12 hand-overs per thousand locks, 0.45x sync.Mutex; 256 gave
	// 38 M, 4.4 hand-overs and 0.57x (7 interleaved passes each; 1024,
	// 25 µs, gave 42 M and 0.68x, but a released lock waited as long as
	// a futex wake-up for its next look).
	mutexLookMax = 256
	// mutexStarve is how long a waiter waits before it asks, through the
	// want word, that the lock be left to it once free, as sync.Mutex
	// turns to starvation mode after 1 ms.
	mutexStarve = time.Millisecond
	mutexTries  = 4 // CAS tries after a look found the lock free, before the parking loop
	// mutexFirstSleep is the first sleep of a waiter after it counts
	// itself a sleeper; the next ones double up to mutexPoll until it sees
	// the lock word change (see plainRelease).
	mutexFirstSleep = time.Millisecond
)

// mutexPoll is the liveness check period of a parked waiter (a variable
// only so that a test can make it long).
var mutexPoll = 50 * time.Millisecond

// The starvation bound's waits (variables only so that a test can make
// them long).
var (
	// mutexWantPatience is how long lockers leave a free lock to a
	// starving waiter that does not come to take it: a woken process
	// runs within microseconds (the Event wake's p99.9 was under a
	// millisecond on the loaded 2-core machine), so one that has not
	// come in this long is stopped, descheduled for long, or of another
	// namespace and dead; the lock is not left idle for it any longer.
	mutexWantPatience = 10 * time.Millisecond
	mutexYieldSlice   = time.Millisecond // one sleep of a locker that leaves the lock to a starving waiter
)

// holderOf returns the holder field that the process of procinfo word w
// puts in a state word; 0 for the zero word.
func holderOf(w uint64) uint32 {
	id := procinfo.FromWord(w)
	if id.IsZero() {
		return 0
	}
	return uint32(id.Pid)&mPidMask | (procinfo.NSTag(id.NS)&mNSMask)<<mNSShift
}

// Mutex is a mutual exclusion lock shared between processes, living in
// shared memory: Drepper's three-state futex mutex with the holder's PID in
// the lock word and its start time beside it.
//
// The owner of a locked Mutex is a process, not a goroutine. Two goroutines
// of one process exclude each other as with sync.Mutex (the Mutex is not
// recursive: locking it twice from one process deadlocks that process, as
// Python's Lock does), and Unlock may be called from any goroutine of any
// process, as Python's Lock.release and sync.Mutex.Unlock allow. What the
// process identity buys is recovery: when the holding process dies, the next
// locker gets the lock with ErrOwnerDead.
//
// A *Mutex is a handle onto the shared words; the handle must not be copied
// after first use (pass the pointer). Its methods are safe for concurrent use
// by any number of goroutines and processes. A Mutex of its own (NewMutex,
// CreateMutex, OpenMutex), not an embedded one, travels to worker
// processes through encoding/gob.
type Mutex struct {
	_     noCopy
	state *atomic.Uint32 // the lock word; written by lockers and Unlock
	owner *atomic.Uint64 // holder's procinfo word; written only by the holder
	// sleepers counts the waiters past their spin (in lockSlow's parking
	// loop), in every process; each adds and subtracts only its own 1.
	sleepers *atomic.Uint32
	// want is the procinfo word of a process one of whose waiters has
	// waited mutexStarve or more (0: none): lockers of other goroutines
	// leave the lock, free, to that waiter. Set by the starving waiter
	// (CAS from 0), cleared by it once it holds the lock or gives up, or
	// by a locker that found it stale (see yieldTo).
	want *atomic.Uint64
	// holder and word are self()'s, kept in the handle: the fast paths of
	// Lock, TryLock and Unlock read them without a call (a handle lives in
	// the process that made it: a worker decodes its own).
	holder uint32
	word   uint64
	ref    ref
	spin   spin.Adaptive // this handle's learnt spin (process-local)
	// pause is the look pause at which this handle's last spin found the
	// lock free; the next spin starts at half of it (process-local).
	pause atomic.Int32
	seen  aliveSeen // the holder this handle last found alive in /proc
	// owedWant and owedSince are the want word this handle's TryLock last
	// found owed a free lock, and since when it has found so (spin.Now;
	// process-local): TryLock's form of yieldTo's patience (see wantStale).
	owedWant  atomic.Uint64
	owedSince atomic.Int64
}

// aliveFor is how long a holder found alive counts as alive for the handle
// that looked, so that TryLock polled in a loop reads /proc (about 15 µs)
// once per aliveFor rather than at every call. A holder that dies is seen
// dead at most that much later.
const aliveFor = time.Millisecond

// processStart anchors the times in aliveSeen.
var processStart = time.Now()

// aliveSeen is a handle's memory of the holder it last found alive: its
// owner word (or PID<<32) and when. The handle's goroutines share it; the
// two words are written apart, so a goroutine that reads them between the
// writes may look in /proc once more than needed, or once less for a holder
// that some goroutine found alive moments before.
type aliveSeen struct {
	who atomic.Uint64
	at  atomic.Int64 // nanoseconds since processStart
}

func (s *aliveSeen) fresh(who uint64) bool {
	return s.who.Load() == who && time.Since(processStart)-time.Duration(s.at.Load()) < aliveFor
}

func (s *aliveSeen) mark(who uint64) {
	s.who.Store(who)
	s.at.Store(int64(time.Since(processStart)))
}

// NewMutex creates an unlocked Mutex (Python's Lock()) in this process's heap of shared memory: no segment,
// no name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the handle reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func NewMutex() (*Mutex, error) { return place(shm.KindMutex, MutexSize, InitMutex) }

// CreateMutex creates an unlocked Mutex called name in seg (kind shm.KindMutex).
func CreateMutex(seg *shm.Segment, name string) (*Mutex, error) {
	return create(seg, name, shm.KindMutex, MutexSize, InitMutex)
}

// OpenMutex opens the Mutex called name in seg.
func OpenMutex(seg *shm.Segment, name string) (*Mutex, error) {
	return open(seg, name, shm.KindMutex, MutexSize, MutexAt)
}

// InitMutex writes an unlocked Mutex into the first MutexSize bytes of mem,
// which must be 8-byte aligned (cache-line aligned is best), and returns a
// handle on it. It is for objects that embed a Mutex in their own body; call
// it before the memory is published to other processes.
func InitMutex(mem []byte) (*Mutex, error) {
	r, err := region(mem, MutexSize, "Mutex")
	if err != nil {
		return nil, err
	}
	clear(r)
	putLE32(r[mutexOffMagic:], magicMutex)
	return mutexAt(r)
}

// MutexAt returns a handle on the Mutex that InitMutex wrote at the start
// of mem, checking size, alignment and its magic word.
func MutexAt(mem []byte) (*Mutex, error) {
	r, err := region(mem, MutexSize, "Mutex")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, mutexOffMagic, magicMutex, "Mutex"); err != nil {
		return nil, err
	}
	return mutexAt(r)
}

func mutexAt(r []byte) (*Mutex, error) {
	s, err := atomics.Uint32At(r, mutexOffState)
	if err != nil {
		return nil, err
	}
	o, err := atomics.Uint64At(r, mutexOffOwner)
	if err != nil {
		return nil, err
	}
	sl, err := atomics.Uint32At(r, mutexOffSleepers)
	if err != nil {
		return nil, err
	}
	w, err := atomics.Uint64At(r, mutexOffWant)
	if err != nil {
		return nil, err
	}
	holder, word := self()
	return &Mutex{state: s, owner: o, sleepers: sl, want: w, holder: holder, word: word}, nil
}

// self returns the calling process's holder field as it goes into a lock
// word, and its procinfo word.
func self() (holder uint32, word uint64) {
	selfOnce.Do(func() {
		selfWord = procinfo.Self().Word()
		selfHolder = holderOf(selfWord)
	})
	return selfHolder, selfWord
}

// The caller's holder field and procinfo word, computed once: Lock's fast
// path reads them.
var (
	selfOnce   sync.Once
	selfHolder uint32
	selfWord   uint64
)

// Lock locks m, waiting as long as it takes: the sync.Locker form, for code
// that takes a Locker (sync.Cond, a helper written for sync.Mutex).
//
// When the previous holder died holding m, Lock takes the lock over, marks
// it consistent and returns holding it, as if the holder had unlocked: the
// state m guards may be half-updated, and Lock cannot say so. Python's Lock
// is no better (a lock whose holder died stays locked for ever); code that
// can repair what a dead holder left calls LockContext, which returns
// ErrOwnerDead instead. Lock panics when m is not recoverable (a
// LockContext caller unlocked it after ErrOwnerDead without
// MarkConsistent, or a peer wrote garbage): LockContext returns
// ErrNotRecoverable there.
func (m *Mutex) Lock() {
	holder, word := m.holder, m.word
	if m.want.Load() == 0 && m.state.CompareAndSwap(0, holder) { // unlocked -> locked
		atomics.StoreRelease64(m.owner, word)
		raceAcquire(m.state)
		return
	}
	m.lockPlain()
}

// lockPlain is Lock's slow path, apart so that Lock inlines.
func (m *Mutex) lockPlain() {
	switch err := m.LockContext(context.Background()); err {
	case nil:
	case ErrOwnerDead:
		m.MarkConsistent()
	default:
		panic("semaphore: Lock of a Mutex that is not recoverable (LockContext returns ErrNotRecoverable): " + err.Error())
	}
}

// LockContext locks m, blocking until it is free or ctx ends. It returns
// nil with the lock held; ErrOwnerDead with the lock held when the previous
// holder died holding it (repair, MarkConsistent, Unlock); ErrNotRecoverable,
// or ctx's error, without the lock.
func (m *Mutex) LockContext(ctx context.Context) error {
	holder, word := m.holder, m.word
	if m.want.Load() == 0 && m.state.CompareAndSwap(0, holder) { // unlocked -> locked
		atomics.StoreRelease64(m.owner, word)
		raceAcquire(m.state)
		return nil
	}
	err := m.lockSlow(ctx, holder, word)
	if err == nil || err == ErrOwnerDead {
		raceAcquire(m.state)
	}
	return err
}

// TryLock locks m if that needs no waiting. It reports whether the caller now
// holds the lock; the error is ErrOwnerDead (lock held: the previous holder
// died) or ErrNotRecoverable (not held). A TryLock that finds m locked by
// another process checks whether the holder is alive, a read of /proc
// (about 15 µs), at most once a millisecond per holder and handle: polled in
// a loop it costs some nanoseconds a call, and sees the holder's death up to
// a millisecond late. A free m is not taken while a waiter that has waited
// a millisecond is owed it (as Lock's starvation bound says): TryLock then
// reports false, as sync.Mutex's TryLock does in starvation mode, but not
// for ever: a waiter that has not come after this handle's TryLock found
// the lock free and owed to it for 10 ms is owed it no more, as Lock
// judges too.
func (m *Mutex) TryLock() (bool, error) {
	ok, err := m.tryLock()
	if ok {
		raceAcquire(m.state)
	}
	return ok, err
}

func (m *Mutex) tryLock() (bool, error) {
	holder, word := m.holder, m.word
	if m.want.Load() == 0 && m.state.CompareAndSwap(0, holder) { // unlocked -> locked
		atomics.StoreRelease64(m.owner, word)
		return true, nil
	}
	v := m.state.Load()
	switch {
	case v&mHolderMask == mNotRecoverable:
		return false, ErrNotRecoverable
	case v&mHolderMask == 0:
		if w := m.want.Load(); w != 0 && !m.wantGone(w) && !m.wantStale(w) {
			return false, nil // free, but owed to a waiter that starves
		}
		if !m.state.CompareAndSwap(v, holder|v&(mOwnerDied|mWaiters)) { // unlocked* -> locked*
			return false, nil
		}
		atomics.StoreRelease64(m.owner, word)
		if v&mOwnerDied != 0 {
			return true, ErrOwnerDead
		}
		return true, nil
	}
	if m.owedWant.Load() != 0 {
		m.owedWant.Store(0) // held: whoever was owed the lock may have taken it
	}
	if ok, err := m.takeOver(v, holder, word); ok {
		return true, err
	}
	return false, nil
}

// Unlock unlocks m, waking one waiter if any sleeps. Unlocking an unlocked
// Mutex panics. It may be called by any goroutine of any process, not only
// by the locker. If m was taken with ErrOwnerDead and MarkConsistent was not
// called, Unlock makes m not recoverable: every later Lock fails with
// ErrNotRecoverable.
func (m *Mutex) Unlock() {
	// Nothing below reads the handle after the releasing store or CAS:
	// once the lock is free, another goroutine may take it and Close this
	// handle, so the words are read into locals first.
	state, owner, sleepers, holder := m.state, m.owner, m.sleepers, m.holder
	raceRelease(state)
	if state.Load() == holder && sleepers.Load() == 0 { // held by this process, nobody parked: the common case
		if plainReleaseHook != nil {
			plainReleaseHook()
		}
		atomics.StoreRelease64(owner, 0) // the holder leaves: nobody recorded until the next CAS
		atomics.StoreRelease32(state, 0) // locked -> unlocked: a plain store (see plainRelease)
		return
	}
	if state.Load() == holder { // held by this process, a waiter counted: WAITERS may come at any moment
		atomics.StoreRelease64(owner, 0)     // the holder leaves: nobody recorded until the next CAS
		if state.CompareAndSwap(holder, 0) { // locked -> unlocked
			return
		}
	}
	unlockSlow(state, owner, m.want) // not released yet: the handle is still ours
}

// plainRelease: Unlock's common case, the lock held by this process with
// no waiter counted in sleepers, releases with a plain store of 0, not a
// CAS: a locked instruction less, a quarter of an uncontended Lock and
// Unlock (15.6 -> 11.5 ns). A waiter counts itself in sleepers (a locked
// add) before it sets WAITERS and sleeps, so every Unlock that loads
// sleepers after that add takes the CAS and wakes it. Only an Unlock that
// loaded sleepers before the add and stores after the waiter went to
// sleep (a holder descheduled between its load and its store, or its store
// still in the store buffer) clobbers that WAITERS and wakes nobody; the
// waiter's first sleeps after each count are therefore short
// (mutexFirstSleep, then doubling to mutexPoll) until it sees a word it
// loaded after the count change: it then waits about as long as that
// holder was descheduled, at most mutexPoll. Unlock reads nothing of the
// lock after its store, as before: the next holder may unmap it.
//
// plainReleaseHook, nil but in tests, runs between that load and the
// store: a test holds a releaser there while a waiter parks.
var plainReleaseHook func()

// parkLoopHook, nil but in tests, runs at each turn of lockSlow's parking
// loop with the word just loaded: a test changes the word there, or starts
// a racing Unlock, before the waiter acts on what it loaded.
var parkLoopHook func(v uint32)

// parkSleepHook, nil but in tests, runs before each of lockSlow's sleeps
// on the lock word with the longest that sleep may last (its poll): a test
// checks that the sleeps after a count start short, which no clock can
// tell from a loaded machine's delays.
var parkSleepHook func(d time.Duration)

// unlockSlow is Unlock's general path: sleepers to wake, an inconsistent
// lock, a holder in another process, misuse. It takes the lock's words,
// not the handle (see Unlock).
func unlockSlow(state *atomic.Uint32, owner, want *atomic.Uint64) {
	for {
		v := state.Load()
		switch {
		case v&mHolderMask == 0:
			panic("semaphore: Unlock of unlocked Mutex")
		case v&mHolderMask == mNotRecoverable:
			panic("semaphore: Unlock of unrecoverable Mutex")
		case v&mOwnerDied != 0:
			atomics.StoreRelease64(owner, 0)
			if state.CompareAndSwap(v, mNotRecoverable) { // inconsistent -> not recoverable
				wakeReleased(state, -1)
				return
			}
			continue
		}
		n := releaseWakes(v, want)
		atomics.StoreRelease64(owner, 0) // the holder leaves: nobody recorded until the next CAS
		if state.CompareAndSwap(v, 0) {  // locked* -> unlocked
			if n != 0 {
				if releasedHook != nil {
					releasedHook()
				}
				wakeReleased(state, n)
			}
			return
		}
	}
}

// releaseWakes is how many sleepers the release of lock word v wakes: none
// without WAITERS; one; all while a waiter starves (want set). A locker
// that leaves the free lock to the starving waiter sleeps on the free
// word (yieldTo) until the want word changes, and a single wake may reach
// it first: it sleeps on when the want word names the same process again
// (a goroutine of the starving process that took the lock, or one whose
// want word a starving waiter of that process replaced), and the waiter
// the wake was for, perhaps the starving one, sleeps on until its poll.
// want is loaded before the release (nothing is read after it: see
// Unlock); a waiter that starts to starve between that load and the
// release is left to the yielders' patience (mutexWantPatience).
func releaseWakes(v uint32, want *atomic.Uint64) int {
	switch {
	case v&mWaiters == 0:
		return 0
	case want.Load() != 0:
		return -1
	}
	return 1
}

// releasedHook, nil but in tests, runs in unlockSlow between the releasing
// CAS and the wake: a test places there what another goroutine may do in
// that gap (take the lock, unmap its memory).
var releasedHook func()

// Close gives up this handle's hold on shared memory: the heap object of
// NewMutex (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Mutex
// from CreateMutex or OpenMutex lives in the caller's segment, which Close
// leaves mapped. Other processes' handles are not affected. It does not unlock:
// a lock this process holds stays held. Close
// is idempotent; the Mutex must not be used after it, nor while a call on
// it runs in another goroutine: a call after it panics (the handle no
// longer points at the shared memory), and GobEncode returns an error.
func (m *Mutex) Close() error { return closeHandle(m, &m.ref) }

// GobEncode encodes the Mutex's handle (segment, name, kind). An
// embedded Mutex cannot be encoded on its own, nor a closed one.
func (m *Mutex) GobEncode() ([]byte, error) { return m.ref.encode("Mutex") }

// GobDecode attaches the segment and finds the Mutex that GobEncode named.
func (m *Mutex) GobDecode(b []byte) error { return decode(m, b, shm.KindMutex, MutexSize, MutexAt) }

// adopt takes the words of from (a view of the same memory) and records r.
func (m *Mutex) adopt(from *Mutex, r ref) {
	m.state, m.owner, m.sleepers, m.want, m.ref = from.state, from.owner, from.sleepers, from.want, r
	m.holder, m.word = from.holder, from.word
}
