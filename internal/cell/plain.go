package cell

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/spin"
)

// The plain update of an integer cell (layout version 3).
//
// An integer value's data word has two kinds of writer: lock holders
// (value.Update), which read the word, compute and write it back, and
// lock-free writers (value.Add, Swap, CompareAndSwap), one atomic
// instruction each. A lock holder that wrote back with a plain store
// would lose an Add that landed between its read and its store, so
// Update stored with a compare-and-swap: a locked instruction that waits
// for the stores before it to drain, a third of a two-process Update
// (BenchmarkUpdateTwoProcesses, perf). Most values never meet a lock-free
// writer, and for them the CAS is waste.
//
// The writers word (OffWriters) says whether one ever came: writersNone
// until a lock-free writer announces itself (AnnounceLockFree, once per
// handle), writersOn for good after. While it is writersNone a lock
// holder writes with a plain store (StorePlain64/32), inside a window
// that it marks by making seq odd:
//
//	holder (lock held):   seq = odd; if writers == none { data = x }; seq = even
//	announcer:            writers = joining; membarrier; while seq is that odd: wait; writers = on
//
// This is Dekker's handshake with the fence moved to the rare side
// (package membarrier): either the holder's load of writers sees the
// announcement, and it falls back on the CAS, or the announcer's load of
// seq, after the membarrier, sees the holder's odd seq, and it waits for
// the window to close before its first atomic write. Only processes
// registered for membarrier's global expedited command take the plain
// store; the rest always CAS. The holder computes its value before the
// window, so that the window holds no caller code and an announcer waits
// nanoseconds. A holder descheduled or stopped inside it is waited for by
// polling seq, never through the lock, which a Lock holder may keep while
// it waits for the announcer; a dead holder's lock is taken over with
// TryLock, which evens seq (waitClear).
//
// seq is written only by the lock holder, as for a seqlock write; an
// integer value's readers load the word atomically and never read seq,
// so the window costs them nothing.
const (
	writersNone    = 0
	writersJoining = 1
	writersOn      = 2
)

// TestHookPlain, nil but in tests, runs at the points of the handshake
// where a test holds one side while the other goes on: PlainChecked (a
// lock holder found writersNone and has not opened its window),
// PlainOpen (its window open and writersNone found again, the data not
// yet stored), PlainWaiting (an announcer found a window open and waits
// for it) and PlainPolling (that announcer has looked plainWaitLooks
// times and polls more slowly).
var TestHookPlain func(stage int)

// The stages of TestHookPlain.
const (
	PlainChecked = iota
	PlainOpen
	PlainWaiting
	PlainPolling
)

// StorePlain64 stores x into w, the data word of an integer cell whose
// lock the caller holds, with a plain store, and reports true; or it
// stores nothing and reports false when a lock-free writer may be about
// (or this process is not registered for membarrier): the caller then
// stores with a CAS against the value it read. It is written out whole,
// without calls, as StorePlain32 is: it is a third of an Update.
func (c *Cell) StorePlain64(w *atomic.Uint64, x uint64) bool {
	if c.writers.Load() != writersNone || !membarrier.Registered() {
		return false
	}
	if TestHookPlain != nil {
		TestHookPlain(PlainChecked)
	}
	s := c.seq.Load() | 1
	atomics.StoreRelease64(c.seq, s)     // publishes: a plain store under way (seq odd), before the load below
	if c.writers.Load() != writersNone { // observes: an announcement (see AnnounceLockFree)
		atomics.StoreRelease64(c.seq, s+1)
		return false
	}
	if TestHookPlain != nil {
		TestHookPlain(PlainOpen)
	}
	atomics.StoreRelease64(w, x)
	atomics.StoreRelease64(c.seq, s+1) // publishes: the window closed, after the data
	return true
}

// StorePlain32 is StorePlain64 for a 4-byte word.
func (c *Cell) StorePlain32(w *atomic.Uint32, x uint32) bool {
	if c.writers.Load() != writersNone || !membarrier.Registered() {
		return false
	}
	if TestHookPlain != nil {
		TestHookPlain(PlainChecked)
	}
	s := c.seq.Load() | 1
	atomics.StoreRelease64(c.seq, s)
	if c.writers.Load() != writersNone {
		atomics.StoreRelease64(c.seq, s+1)
		return false
	}
	if TestHookPlain != nil {
		TestHookPlain(PlainOpen)
	}
	atomics.StoreRelease32(w, x)
	atomics.StoreRelease64(c.seq, s+1)
	return true
}

// plainWaitLooks is how many times AnnounceLockFree looks at an odd seq
// before it polls more slowly (waitClear): a window holds a few stores, so
// a holder still inside it after that is descheduled, stopped or dead.
const plainWaitLooks = 1 << 10

// plainWaitPoll is waitClear's slowest poll period.
const plainWaitPoll = 50 * time.Microsecond

// AnnounceLockFree is what a lock-free writer of an integer cell's data
// word calls before its first write through a handle: once it returns,
// no lock holder writes the word with a plain store, now or later (see
// the top of this file). op names the caller for the panic of a closed
// cell. It never waits for a live lock holder beyond the window of a
// plain store, except where membarrier is unavailable (see waitClear).
func (c *Cell) AnnounceLockFree(op string) {
	w := c.writers
	if w == nil {
		c.PanicClosed(op)
	}
	if w.Load() == writersOn {
		return
	}
	w.CompareAndSwap(writersNone, writersJoining) // publishes: the announcement, before the fence
	fenced := membarrier.Fence() == nil
	if s := c.seq.Load(); !fenced || s&1 != 0 { // observes: a window opened before the fence
		if fenced && TestHookPlain != nil {
			TestHookPlain(PlainWaiting)
		}
		c.waitClear(fenced, s)
	}
	w.CompareAndSwap(writersJoining, writersOn)
}

// waitClear waits until no lock holder can still store plainly without
// having seen the announcement. Fenced (the membarrier ran), that is
// until the window seen open at seq s has closed. Without the fence, an
// open window may not show in seq yet, so it waits for the lock to be
// seen free, or held through Lock by this process (a Locked holder opens
// no window, and the holders before it closed theirs before their
// Unlock); a holder that takes the lock after the announcement sees it.
// That is the one case in which a first lock-free write waits for the
// lock: a Lock holder of another process makes it wait until its Unlock.
// Either way a lock that TryLock takes (free, or a dead holder's, taken
// over) ends the wait, its seq repaired; a lock that is not recoverable
// has no holder that could store.
func (c *Cell) waitClear(fenced bool, s uint64) {
	for i := 0; ; i++ {
		if fenced {
			if c.seq.Load() != s {
				return // the window closed
			}
			if i < plainWaitLooks {
				spin.Relax() // the window holds a few stores
				continue
			}
			if i == plainWaitLooks && TestHookPlain != nil {
				TestHookPlain(PlainPolling)
			}
		}
		if ok, err := c.mu.TryLock(); ok {
			if err != nil || c.seq.Load()&1 != 0 { // a dead holder's, or garbage: see Hold
				c.repair(err != nil && errors.Is(err, ErrOwnerDead))
			}
			c.Unlock()
			return
		} else if err != nil {
			return
		}
		if !fenced && c.guardHeld() {
			return
		}
		if i < 2*plainWaitLooks {
			runtime.Gosched()
		} else {
			time.Sleep(plainWaitPoll) // a holder descheduled or stopped in its window, or a Lock holder elsewhere
		}
	}
}
