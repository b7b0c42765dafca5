package semaphore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/shm"
)

// The RWMutex's wstate word:
//
//	0                      no writer: readers enter with one atomic add
//	rwWriter               a writer is announced: it holds the lock, waits
//	                       for readers to leave, or is leaving (between
//	                       its release of the writer Mutex and of this
//	                       word); arriving readers back out and wait
//	rwWriter|rwSleeping    ... and a reader, or the next writer, is parked
//	                       on wstate
//
// Transitions: 0 -> rwWriter (Lock, holding the writer Mutex, named in
// wowner first); rwWriter -> rwWriter|rwSleeping (a reader before
// parking, or the next writer waiting for the one that leaves);
// rwWriter* -> 0 (Unlock, or a writer that gives up, once it has released
// the writer Mutex, waking the parked if rwSleeping); rwWriter* kept, with
// the holder of the writer Mutex named in wowner instead (a writer that
// finds the mark of a dead one).
//
// The writer Mutex is released before wstate, not after, because the Swap
// that clears wstate lets readers in, and a reader of this process may
// then finish with the RWMutex and unmap its memory before the writer's
// next instruction (see wakeReleased): that Swap must be the writer's
// last access, and its wake the only thing after it. So the next writer
// may take the writer Mutex while the leaving one's mark is still set; it
// waits for the mark to go (announce) before it sets its own, and never
// takes a live writer's mark as its own, which the leaving writer's Swap
// would clear under it, letting readers in beside it. Nobody can finish
// with the RWMutex while a writer is between its two releases: readers
// are kept out by the mark, and the next writer by its wait. A mark whose
// writer is dead is taken over, by the writer that holds the writer Mutex
// (or by a reader that finds it so and takes the write lock to do so, as
// it does behind a dead writer): the dead writer held the lock (the writer
// Mutex gives ErrOwnerDead), or was killed between its two releases (the
// writer Mutex is free: the waiters' liveness polls, every mutexPoll, find
// wowner dead; its work was done). A writer of another PID namespace is
// never judged dead (see procinfo.AliveWord): one killed between its two
// releases keeps this namespace's readers and writers waiting, as a Mutex
// held by such a process does.
//
// wowner is the procinfo word of the writer that set rwWriter. A writer
// stores it while it holds the writer Mutex and finds no mark set, before
// its CAS sets the mark, and when it takes a dead writer's mark over; it
// is never cleared, and means something only while rwWriter is set. Then
// it names the writer that set the mark or took it over: only the holder
// of the writer Mutex stores it, and a holder stores it only while no mark
// is set or the mark's writer is dead.
//
// Readers count themselves in a per-process slot (ident = the process's
// procinfo word, count = its read holds), never in one shared counter: a
// writer looks at every slot, and a slot whose process has died is recovered
// exactly (its count is that process's holds and nobody else's). The
// reader's add and the writer's set of rwWriter are each followed by a
// load of the other side's word (Dekker; Go's atomics are sequentially
// consistent), so either the reader sees the writer and backs out or the
// writer sees the reader and waits.
//
// A read count word (a slot's count, or overflow):
//
//	bits 0-30      read holds
//	rwCountWaiter  the writer waits for this word's holds to reach 0
//
// Transitions: holds -> holds±1, the mark kept (readers, Add);
// holds -> holds|rwCountWaiter (the writer, CAS, before it parks on the
// word); rwCountWaiter -> 0 (the writer, CAS, once every reader is gone,
// or a writer that gives up). A reader whose Add takes the word to
// rwCountWaiter (no holds left, the writer waiting) wakes the writer on
// that word. The mark is in the word the reader's Add changes, not in
// wstate beside it, because nothing of the RWMutex may be read after that
// Add: a writer of this process that sees the readers gone may finish with
// the RWMutex and unmap its memory before the reader's next instruction
// (see wakeReleased). A writer killed while it waits leaves a mark, which
// costs that word's readers a wake for nobody each time its holds reach 0,
// until the next writer clears it.
const (
	rwWriter   = 1
	rwSleeping = 2

	rwCountWaiter = 1 << 31
	rwCountHolds  = rwCountWaiter - 1
)

// RWMutex is a reader/writer lock shared between processes: any number of
// readers or one writer. A writer that has announced itself keeps new
// readers out, so writers are not starved (readers may be, by a stream of
// writers).
//
// Writers are serialised by an embedded robust Mutex: when a writer dies
// holding the lock, the next Lock gets it with ErrOwnerDead (call
// MarkConsistent before Unlock), and a reader waiting behind the dead writer
// takes the write lock over itself: RLock then returns ErrOwnerDead with the
// lock held for writing — repair, MarkConsistent, and release with Unlock,
// not RUnlock. So does a reader that comes after a writer which took the
// lock over gave up (its ctx ended) before repairing.
//
// Read holds belong to the process: a process that dies holding read locks
// has them released by the next writer, which finds its reader slot dead.
// RUnlock must be called through the handle that took the read hold (by
// any goroutine of its process). There are 32 reader slots; the processes beyond that share an
// overflow count whose holds are not recovered if they die.
//
// The handle must not be copied after first use.
type RWMutex struct {
	_        noCopy
	w        *Mutex
	wstate   *atomic.Uint32                // see above; written by writers, and readers and a writer before parking
	wowner   *atomic.Uint64                // the procinfo word of the writer that set rwWriter (see above); written by the holder of w
	overflow *atomic.Uint32                // read holds of processes without a slot, a read count word (see above)
	slots    [rwSlots]procSlot             // ident claimed by CAS; count (a read count word) written by its process and the waiting writer, zeroed by a writer once it is dead
	mine     atomic.Pointer[atomic.Uint32] // this process's read count, found on first RLock
	held     atomic.Int64                  // read holds taken through this handle (process memory: tells misuse from a corrupted count)
	ref      ref
}

// NewRWMutex creates an unlocked RWMutex in this process's heap of shared memory: no segment,
// no name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the handle reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func NewRWMutex() (*RWMutex, error) { return place(shm.KindRWMutex, RWMutexSize, InitRWMutex) }

// CreateRWMutex creates an unlocked RWMutex called name in seg (kind
// shm.KindRWMutex).
func CreateRWMutex(seg *shm.Segment, name string) (*RWMutex, error) {
	return create(seg, name, shm.KindRWMutex, RWMutexSize, InitRWMutex)
}

// OpenRWMutex opens the RWMutex called name in seg.
func OpenRWMutex(seg *shm.Segment, name string) (*RWMutex, error) {
	return open(seg, name, shm.KindRWMutex, RWMutexSize, RWMutexAt)
}

// InitRWMutex writes an unlocked RWMutex into the first RWMutexSize bytes of
// mem (8-byte aligned) for an object that embeds one.
func InitRWMutex(mem []byte) (*RWMutex, error) {
	r, err := region(mem, RWMutexSize, "RWMutex")
	if err != nil {
		return nil, err
	}
	clear(r)
	if _, err := InitMutex(r[rwOffWriter:]); err != nil {
		return nil, err
	}
	putLE32(r[rwOffMagic:], magicRWMutex)
	return RWMutexAt(r)
}

// RWMutexAt returns a handle on the RWMutex InitRWMutex wrote at mem.
func RWMutexAt(mem []byte) (*RWMutex, error) {
	r, err := region(mem, RWMutexSize, "RWMutex")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, rwOffMagic, magicRWMutex, "RWMutex"); err != nil {
		return nil, err
	}
	rw := new(RWMutex)
	if rw.w, err = MutexAt(r[rwOffWriter:]); err != nil {
		return nil, err
	}
	words := []struct {
		p   **atomic.Uint32
		off int
	}{{&rw.wstate, rwOffWState}, {&rw.overflow, rwOffOverflow}} // the word at rwOffDrain is unused since layout version 3
	for _, w := range words {
		if *w.p, err = atomics.Uint32At(r, w.off); err != nil {
			return nil, err
		}
	}
	if rw.wowner, err = atomics.Uint64At(r, rwOffWOwner); err != nil {
		return nil, err
	}
	if err := bindSlots(r, rwOffSlots, rw.slots[:]); err != nil {
		return nil, err
	}
	return rw, nil
}

// counter returns this process's read-hold counter, claiming a slot on first
// use: the slot that already names this process, else a free one, else one
// whose process is dead and holds nothing, else the shared overflow count.
func (rw *RWMutex) counter() *atomic.Uint32 {
	if c := rw.mine.Load(); c != nil {
		return c
	}
	me := procinfo.Self().Word()
	c := rw.claim(me)
	rw.mine.Store(c)
	return c
}

func (rw *RWMutex) claim(me uint64) *atomic.Uint32 {
	for i := range rw.slots {
		if rw.slots[i].ident.Load() == me {
			return rw.slots[i].count
		}
	}
	for i := range rw.slots {
		if rw.slots[i].ident.CompareAndSwap(0, me) { // free -> mine
			return rw.slots[i].count
		}
	}
	for i := range rw.slots {
		s := &rw.slots[i]
		id := s.ident.Load()
		if s.count.Load()&rwCountHolds == 0 && !procinfo.AliveWord(id) && s.ident.CompareAndSwap(id, me) { // dead and empty -> mine
			return s.count
		}
	}
	return rw.overflow
}

// RLock locks rw for reading, waiting as long as it takes: the form for
// code that takes a sync.Locker (see RLocker). A writer that died holding
// rw is taken over as Mutex.Lock takes a dead holder's lock over (marked
// consistent: the state rw guards may be half-updated), then the read
// hold taken. It panics when rw is not recoverable; RLockContext returns
// the errors instead.
func (rw *RWMutex) RLock() {
	for {
		switch err := rw.RLockContext(context.Background()); err {
		case nil:
			return
		case ErrOwnerDead:
			rw.MarkConsistent()
			rw.Unlock() // repaired as far as RLock can: now read
		default:
			panic("semaphore: RLock of an RWMutex that is not recoverable (RLockContext returns ErrNotRecoverable): " + err.Error())
		}
	}
}

// RLocker returns a sync.Locker whose Lock and Unlock are rw's RLock and
// RUnlock, as sync.RWMutex.RLocker does.
func (rw *RWMutex) RLocker() sync.Locker { return (*rlocker)(rw) }

type rlocker RWMutex

func (r *rlocker) Lock()   { (*RWMutex)(r).RLock() }
func (r *rlocker) Unlock() { (*RWMutex)(r).RUnlock() }

// RLockContext locks rw for reading, blocking while a writer holds it or
// waits for it. It returns nil with a read hold; ErrNotRecoverable or ctx's
// error without one; or ErrOwnerDead with the lock held for WRITING (a
// writer died holding it: repair, MarkConsistent, Unlock; see RWMutex).
func (rw *RWMutex) RLockContext(ctx context.Context) error {
	c := rw.counter()
	for {
		if c.Add(1)&rwCountHolds == 0 { // announce the reader...
			c.Add(^uint32(0)) // the holds carried into the mark: see countCarried
			return ErrNotRecoverable
		}
		if rw.wstate.Load()&rwWriter == 0 { // ...then look for a writer (Dekker)
			if !readable(rw.w.state.Load()) {
				rw.leave(c)
				if err := rw.repair(ctx); err != nil {
					return err
				}
				continue
			}
			raceAcquire(rw.wstate)
			rw.held.Add(1)
			return nil
		}
		rw.leave(c) // a writer is there: back out and let it see us go
		if err := rw.waitWriter(ctx); err != nil {
			return err
		}
	}
}

// countCarried: a reader's Add that leaves its count word with no holds
// carried into rwCountWaiter (or past it): the word held 2^31-1 holds, or
// all ones, which no process's readers reach, so a peer corrupted it. The
// reader takes the Add back and refuses (ErrNotRecoverable; TryRLock
// fails): counted there, its hold would read as none, and a writer would
// take the lock beside it (TestRWMutexCorruptCountCarriesIntoMark).

// readable reports whether readers may enter with the writer Mutex in
// state v: not when it is not recoverable, nor while it says that a writer
// died (OWNER_DIED) and nobody has repaired yet. A writer that took a dead
// writer's lock over and gave up before repairing (abandon) leaves it
// unlocked and inconsistent (OWNER_DIED) before it clears wstate.
func readable(v uint32) bool {
	return v&mOwnerDied == 0 && v&mHolderMask != mNotRecoverable
}

// repair is a reader's way past a writer Mutex that is not readable: it
// takes the write lock, as a reader behind a dead writer does (see
// waitWriter), so that the dead writer's work is repaired before anyone
// reads. It returns nil when someone repaired meanwhile (read after all),
// or ErrOwnerDead (held for writing), ErrNotRecoverable or ctx's error.
func (rw *RWMutex) repair(ctx context.Context) error {
	if err := rw.LockContext(ctx); err != nil {
		return err
	}
	rw.Unlock()
	return nil
}

// TryRLock takes a read hold if no writer holds or waits for rw, and no
// dead writer's work waits for repair (RLockContext takes the write lock
// over then, with ErrOwnerDead).
func (rw *RWMutex) TryRLock() bool {
	c := rw.counter()
	if c.Add(1)&rwCountHolds == 0 {
		c.Add(^uint32(0)) // see countCarried
		return false
	}
	if rw.wstate.Load()&rwWriter == 0 && readable(rw.w.state.Load()) {
		raceAcquire(rw.wstate)
		rw.held.Add(1)
		return true
	}
	rw.leave(c)
	return false
}

// leave drops one read hold from c and, if it was the last and a writer
// waits for it, wakes the writer. Nothing of the RWMutex is read after the
// Add (see rwCountWaiter).
func (rw *RWMutex) leave(c *atomic.Uint32) {
	n := c.Add(^uint32(0)) // publishes: a reader left; holds -> holds-1, the mark kept
	if leaveHook != nil {
		leaveHook()
	}
	if n == rwCountWaiter {
		wakeReleased(c, 1)
	}
}

// leaveHook, nil but in tests, runs in leave between the Add that gives a
// read hold back and what follows: a test places there what a goroutine
// that saw the readers gone may do in that gap (unmap the RWMutex).
var leaveHook func()

// waitWriter parks a reader until no writer is announced. A writer found
// dead is taken over (see RLock).
func (rw *RWMutex) waitWriter(ctx context.Context) error {
	opts := atomics.WaitOptions{Poll: mutexPoll, Check: rw.checkWriter}
	for {
		ws := rw.wstate.Load()
		if ws&rwWriter == 0 {
			return nil
		}
		if ws&rwSleeping == 0 && !rw.wstate.CompareAndSwap(ws, ws|rwSleeping) { // writer -> writer, readers sleeping
			continue
		}
		switch err := atomics.Await(ctx, rw.wstate, ws|rwSleeping, &opts); err {
		case nil:
		case errOwnerGone:
			// The writer died: become the writer, so that someone repairs
			// (or, for one that died between its releases, clears its mark).
			if err := rw.repair(ctx); err != nil {
				return err // ErrOwnerDead (held for writing), or failure
			}
		default:
			return err
		}
	}
}

// checkWriter is a parked reader's periodic liveness check of the writer
// it waits for: the holder of the writer Mutex; or, while that is free
// (or not recoverable) and the mark still set, the writer named in
// wowner, which then died between its two releases (see wstate).
func (rw *RWMutex) checkWriter() error {
	if err := rw.w.checkOwner(); err != nil {
		return err
	}
	if h := rw.w.state.Load() & mHolderMask; (h == 0 || h == mNotRecoverable) &&
		rw.wstate.Load()&rwWriter != 0 && !procinfo.AliveWord(rw.wowner.Load()) {
		return errOwnerGone
	}
	return nil
}

// RUnlock releases one read hold taken through this handle. It panics if
// the handle holds none (misuse); a shared count that a peer overwrote
// makes it release nothing, never panic.
func (rw *RWMutex) RUnlock() {
	if rw.held.Add(-1) < 0 {
		rw.held.Add(1)
		panic("semaphore: RUnlock of RWMutex not read-locked through this handle")
	}
	c := rw.counter()
	raceRelease(rw.wstate)
	if c.Load()&rwCountHolds == 0 {
		// This handle holds a read lock, yet the shared count says none:
		// a peer overwrote it. Leave it at zero rather than wrap it (and
		// keep writers out for ever); there is nothing to panic about.
		return
	}
	rw.leave(c)
}

// Close gives up this handle's hold on shared memory: the heap object of
// NewRWMutex (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A RWMutex
// from CreateRWMutex or OpenRWMutex lives in the caller's segment, which Close
// leaves mapped. Other processes' handles are not affected. It does not unlock. Close
// is idempotent; the RWMutex must not be used after it, nor while a call on
// it runs in another goroutine: a call after it panics (the handle no
// longer points at the shared memory), and GobEncode returns an error.
func (rw *RWMutex) Close() error { return closeHandle(rw, &rw.ref) }

// GobEncode encodes the RWMutex's handle (segment, name, kind); a closed
// one is refused.
func (rw *RWMutex) GobEncode() ([]byte, error) { return rw.ref.encode("RWMutex") }

// GobDecode attaches the RWMutex that GobEncode named.
func (rw *RWMutex) GobDecode(b []byte) error {
	return decode(rw, b, shm.KindRWMutex, RWMutexSize, RWMutexAt)
}

// adopt takes the words of from (a view of the same memory) and records r;
// this handle's own read count (mine) is found again on first RLock.
func (rw *RWMutex) adopt(from *RWMutex, r ref) {
	rw.w, rw.wstate, rw.wowner, rw.overflow, rw.slots, rw.ref = from.w, from.wstate, from.wowner, from.overflow, from.slots, r
}
