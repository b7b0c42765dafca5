package semaphore

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// The Event's flag word is the futex word:
//
//	0                     clear
//	evSleeping            clear, a waiter parks (or is about to) on it
//	evSet                 set
//
// Transitions: clear* -> evSet (Set, a Swap; it wakes every sleeper when
// the word it replaced had evSleeping); 0 -> evSleeping (a waiter before it
// parks, CAS); evSet -> 0 (Clear, CAS: a clear word keeps its evSleeping).
// The sleeping mark is in the word Set swaps, not in a word beside it,
// because nothing of the Event may be read after that Swap: a goroutine of
// this process that sees the flag may finish with the Event and unmap its
// memory before Set's next instruction (see wakeReleased). A waiter killed
// while parked leaves evSleeping set, which costs the next Set a wake for
// nobody.
const (
	evSet      = 1
	evSleeping = 1 << 31
)

// Event is a flag shared between processes that goroutines can wait for
// (Python's multiprocessing Event). The flag is the futex word: clear or
// set. Set wakes every waiter, but makes the wake-up system call only when
// a waiter has marked the word as slept on.
//
// An Event has no owner; a process killed while waiting leaves the word
// marked, which costs the next Set a system call and nothing else.
// The handle must not be copied after first use.
type Event struct {
	_        noCopy
	flag     *atomic.Uint32 // see above; the futex word; written by Set, Clear and waiters before parking
	sleepers *atomic.Uint32 // waiters about to park or parked, for observers (Set does not read it)
	ref      ref
	spin     spin.Adaptive // this handle's learnt spin (process-local)
}

// NewEvent creates a clear Event (Python's Event()) in this process's heap of shared memory: no segment,
// no name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the handle reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func NewEvent() (*Event, error) { return place(shm.KindEvent, EventSize, InitEvent) }

// CreateEvent creates a clear Event called name in seg (kind shm.KindEvent).
func CreateEvent(seg *shm.Segment, name string) (*Event, error) {
	return create(seg, name, shm.KindEvent, EventSize, InitEvent)
}

// OpenEvent opens the Event called name in seg.
func OpenEvent(seg *shm.Segment, name string) (*Event, error) {
	return open(seg, name, shm.KindEvent, EventSize, EventAt)
}

// InitEvent writes a clear Event into the first EventSize bytes of mem
// (8-byte aligned) for an object that embeds one.
func InitEvent(mem []byte) (*Event, error) {
	r, err := region(mem, EventSize, "Event")
	if err != nil {
		return nil, err
	}
	clear(r)
	putLE32(r[evOffMagic:], magicEvent)
	return eventAt(r)
}

// EventAt returns a handle on the Event InitEvent wrote at mem.
func EventAt(mem []byte) (*Event, error) {
	r, err := region(mem, EventSize, "Event")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, evOffMagic, magicEvent, "Event"); err != nil {
		return nil, err
	}
	return eventAt(r)
}

func eventAt(r []byte) (*Event, error) {
	f, err := atomics.Uint32At(r, evOffFlag)
	if err != nil {
		return nil, err
	}
	s, err := atomics.Uint32At(r, evOffSleepers)
	if err != nil {
		return nil, err
	}
	return &Event{flag: f, sleepers: s}, nil
}

// Set sets the flag and wakes every waiter.
func (e *Event) Set() {
	flag := e.flag // nothing of the handle or the Event is read after the Swap (see evSleeping)
	raceRelease(flag)
	old := flag.Swap(evSet) // publishes: the flag; clear* -> set
	if setHook != nil {
		setHook()
	}
	if old&evSleeping != 0 {
		wakeReleased(flag, -1)
	}
}

// setHook, nil but in tests, runs in Set between its Swap and the wake: a
// test places there what a goroutine that saw the flag may do in that gap
// (unmap the Event's memory).
var setHook func()

// Clear clears the flag; later Waits block until the next Set.
func (e *Event) Clear() {
	for v := e.flag.Load(); v&evSet != 0; v = e.flag.Load() {
		if e.flag.CompareAndSwap(v, 0) { // set -> clear; a clear word stays as it is, evSleeping kept
			return
		}
	}
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool {
	if e.flag.Load()&evSet != 0 { // observes: the flag
		raceAcquire(e.flag)
		return true
	}
	return false
}

// Wait blocks until the flag is set, as long as it takes (Python's
// wait()).
func (e *Event) Wait() { e.WaitContext(context.Background()) }

// WaitContext blocks until the flag is set or ctx ends, and reports whether
// the flag is set when it returns: false means ctx ended first (Python's
// Event.wait returning False on timeout).
func (e *Event) WaitContext(ctx context.Context) bool {
	if e.IsSet() {
		return true
	}
	if ctx.Err() != nil {
		return false // done already (Python's wait(0)): not after a spin
	}
	// The shared wait of package spin: one load a look, relaxed, the
	// rounds learnt from how soon past waits ended; then park.
	spell, ok := e.spin.Spin(waitRounds, spin.Yielding, e.lookSet)
	if ok {
		raceAcquire(e.flag)
		return true
	}
	opts := atomics.WaitOptions{Spin: 1}
	learn := true
	for {
		if e.IsSet() {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		v := e.flag.Load()
		if v&evSet != 0 {
			continue
		}
		if v&evSleeping == 0 && !e.flag.CompareAndSwap(v, v|evSleeping) { // clear -> clear, sleeping: Set's Swap sees it
			continue
		}
		e.sleepers.Add(1)
		t0 := spin.Now()
		err := atomics.Await(ctx, e.flag, v|evSleeping, &opts)
		e.sleepers.Add(^uint32(0))
		if learn {
			e.spin.Parked(spell, t0, err == nil && e.flag.Load()&evSet != 0)
			learn = false
		}
		if err != nil {
			return e.IsSet()
		}
	}
}

// lookSet is the spin's look: one load of the flag.
func (e *Event) lookSet() bool { return e.flag.Load()&evSet != 0 }

// Close gives up this handle's hold on shared memory: the heap object of
// NewEvent (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Event
// from CreateEvent or OpenEvent lives in the caller's segment, which Close
// leaves mapped. Other processes' handles are not affected. Close
// is idempotent; the Event must not be used after it, nor while a call on
// it runs in another goroutine: a call after it panics (the handle no
// longer points at the shared memory), and GobEncode returns an error.
func (e *Event) Close() error { return closeHandle(e, &e.ref) }

// GobEncode encodes the Event's handle (segment, name, kind); a closed
// one is refused.
func (e *Event) GobEncode() ([]byte, error) { return e.ref.encode("Event") }

// GobDecode attaches the Event that GobEncode named.
func (e *Event) GobDecode(b []byte) error { return decode(e, b, shm.KindEvent, EventSize, EventAt) }

// adopt takes the words of from (a view of the same memory) and records r.
func (e *Event) adopt(from *Event, r ref) { e.flag, e.sleepers, e.ref = from.flag, from.sleepers, r }
