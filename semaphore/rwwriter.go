package semaphore

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// Lock locks rw for writing, waiting as long as it takes: the sync.Locker
// form. A writer that died holding rw is taken over and marked consistent,
// as Mutex.Lock does; it panics when rw is not recoverable. LockContext
// returns those cases as errors.
func (rw *RWMutex) Lock() {
	switch err := rw.LockContext(context.Background()); err {
	case nil:
	case ErrOwnerDead:
		rw.MarkConsistent()
	default:
		panic("semaphore: Lock of an RWMutex that is not recoverable (LockContext returns ErrNotRecoverable): " + err.Error())
	}
}

// LockContext locks rw for writing: it takes the writer Mutex, announces
// the writer so that no new reader enters (once the writer before it has
// taken its own announcement down), and waits for the readers to leave,
// releasing the holds of readers whose process died. It returns nil
// or ErrOwnerDead (lock held; a writer died holding it: repair,
// MarkConsistent, Unlock), or ErrNotRecoverable or ctx's error (not held).
func (rw *RWMutex) LockContext(ctx context.Context) error {
	err := rw.w.LockContext(ctx)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return err
	}
	if !rw.mark(rw.wstate.Load()) { // a leaving writer's mark, or a dead one's (see announce)
		if aerr := rw.announce(ctx, err != nil); aerr != nil {
			rw.releaseWriter(err != nil) // not announced: wstate is not this writer's to clear
			return aerr
		}
	}
	poll, marked := false, false
	opts := atomics.WaitOptions{Poll: mutexPoll, Check: func() error { poll = true; return nil }}
	for {
		c := rw.reader(poll)
		if c == nil {
			if marked { // a writer that never waited has no marks to take off (a killed writer's stay until one waits)
				rw.unmark()
			}
			raceAcquire(rw.wstate)
			return err
		}
		poll = false
		v := c.Load() // observes: readers leaving
		if v&rwCountHolds == 0 {
			continue
		}
		if v&rwCountWaiter == 0 && !c.CompareAndSwap(v, v|rwCountWaiter) { // holds -> holds, writer waiting: the last reader's Add sees it
			continue
		}
		marked = true
		if werr := atomics.Await(ctx, c, v|rwCountWaiter, &opts); werr != nil {
			rw.abandon(err != nil)
			return werr
		}
	}
}

// announce sets the writer's mark on wstate for the caller, which holds
// the writer Mutex: at once when no mark is set; once the writer that is
// leaving has cleared its mark; or in place of a writer found dead (see
// wstate). ownerDead says that the writer Mutex was taken from a dead
// holder, whose mark is judged at once; otherwise the mark found is most
// likely a leaving writer's, and its writer is judged only at a poll. It
// returns ctx's error if ctx ends first.
func (rw *RWMutex) announce(ctx context.Context, ownerDead bool) error {
	me := rw.w.word
	judge := ownerDead
	for {
		ws := rw.wstate.Load()
		if ws&rwWriter == 0 {
			if rw.mark(ws) {
				return nil
			}
			continue
		}
		o := rw.wowner.Load()
		if judge && !procinfo.AliveWord(o) {
			atomics.StoreRelease64(rw.wowner, me) // a dead writer's mark -> this writer's
			return nil
		}
		judge = false
		if ws&rwSleeping == 0 {
			// The leaving writer clears its mark a few instructions
			// after its release of the writer Mutex: look for that
			// before marking the word, since the mark costs it a wake.
			if changed(rw.wstate, ws) {
				continue
			}
			if !rw.wstate.CompareAndSwap(ws, ws|rwSleeping) { // writer -> writer, a waiter sleeping
				continue
			}
		}
		opts := atomics.WaitOptions{Spin: 1, Poll: mutexPoll, Check: func() error {
			if !procinfo.AliveWord(o) {
				return errOwnerGone
			}
			return nil
		}}
		switch err := atomics.Await(ctx, rw.wstate, ws|rwSleeping, &opts); err {
		case nil:
		case errOwnerGone:
			judge = true
		default:
			return err
		}
	}
}

// mark sets the writer's mark on wstate, found as ws, for the caller,
// which holds the writer Mutex, naming it in wowner first. It reports
// false when ws has a mark (touching nothing) or when its CAS fails.
func (rw *RWMutex) mark(ws uint32) bool {
	if ws&rwWriter != 0 {
		return false
	}
	if me := rw.w.word; rw.wowner.Load() != me { // a writer that locks again names itself once
		atomics.StoreRelease64(rw.wowner, me) // named before announced (see wowner)
	}
	return rw.wstate.CompareAndSwap(ws, ws|rwWriter) // no writer -> writer
}

// changed spins on w, about as long as atomics.Await's spin, and reports
// whether it stopped holding v.
func changed(w *atomic.Uint32, v uint32) bool {
	for i := 0; i < atomics.DefaultSpin; i++ {
		if w.Load() != v {
			return true
		}
	}
	return false
}

// reader returns a read count word that still has holds, or nil when no
// process holds rw for reading. With recover set it also checks the
// holders' liveness and releases the holds of the dead.
func (rw *RWMutex) reader(recover bool) *atomic.Uint32 {
	var held *atomic.Uint32
	if rw.overflow.Load()&rwCountHolds != 0 {
		held = rw.overflow
	}
	for i := range rw.slots {
		s := &rw.slots[i]
		if s.count.Load()&rwCountHolds == 0 {
			continue
		}
		if recover {
			if id := s.ident.Load(); !procinfo.AliveWord(id) {
				s.count.Store(0)              // the dead hold nothing any more (the mark goes with them)
				s.ident.CompareAndSwap(id, 0) // dead -> free
				continue
			}
		}
		if held == nil {
			held = s.count
		}
		if !recover {
			break
		}
	}
	return held
}

// unmark takes the writer's marks off the read count words once the writer
// waits no more (it holds the lock, or gives up): a mark left would cost
// the readers of its word a wake each time their holds reach 0.
func (rw *RWMutex) unmark() {
	unmark := func(c *atomic.Uint32) {
		for v := c.Load(); v&rwCountWaiter != 0; v = c.Load() {
			if c.CompareAndSwap(v, v&^rwCountWaiter) { // holds, writer waiting -> holds
				return
			}
		}
	}
	unmark(rw.overflow)
	for i := range rw.slots {
		unmark(rw.slots[i].count)
	}
}

// abandon gives up a write lock that never got past the readers, as
// Unlock releases one: the writer Mutex first, then wstate, the last
// access (see wstate).
func (rw *RWMutex) abandon(inconsistent bool) {
	rw.unmark()
	wstate := rw.wstate
	rw.releaseWriter(inconsistent)
	clearMark(wstate)
}

// releaseWriter releases the writer Mutex: as Mutex.Unlock does, or, taken
// from a dead holder and not repaired (inconsistent), so that the next
// locker gets ErrOwnerDead in turn.
func (rw *RWMutex) releaseWriter(inconsistent bool) {
	if inconsistent {
		rw.w.releaseInconsistent()
	} else {
		rw.w.Unlock()
	}
}

// clearMark takes a leaving writer's mark off wstate, once it has released
// the writer Mutex, and wakes whoever parked on the mark: readers, and the
// next writer. The Swap is the writer's last access to the RWMutex (see
// wstate); its wake tolerates memory that is gone (wakeReleased).
func clearMark(wstate *atomic.Uint32) {
	if markGapHook != nil {
		markGapHook()
	}
	old := wstate.Swap(0) // writer* -> 0; publishes: the writer's work, to readers and the next writer
	if writerReleasedHook != nil {
		writerReleasedHook()
	}
	if old&rwSleeping != 0 {
		wakeReleased(wstate, -1)
	}
}

// markGapHook, nil but in tests, runs in clearMark between the writer
// Mutex's release and wstate's: a test kills the writer there.
var markGapHook func()

// Unlock releases the write lock. It panics if rw is not locked for writing.
// After ErrOwnerDead without MarkConsistent, rw becomes not recoverable.
func (rw *RWMutex) Unlock() {
	if rw.wstate.Load()&rwWriter == 0 || rw.w.state.Load()&mHolderMask == 0 {
		panic("semaphore: Unlock of RWMutex not locked for writing")
	}
	raceRelease(rw.wstate)
	wstate := rw.wstate
	rw.w.Unlock() // writers may take it now; they wait for the mark to go (see announce)
	clearMark(wstate)
}

// writerReleasedHook, nil but in tests, runs in Unlock, and in a writer
// that gives up (abandon), right after the atomic that lets readers in: a
// test places there what a goroutine that saw the writer gone may do in
// that gap (read, then unmap the RWMutex).
var writerReleasedHook func()

// MarkConsistent declares the state guarded by rw repaired after
// LockContext or RLockContext returned ErrOwnerDead; call it before Unlock.
func (rw *RWMutex) MarkConsistent() { rw.w.MarkConsistent() }
