package semaphore

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// Event is a flag shared between processes that goroutines can wait for
// (Python's multiprocessing Event). The flag is the futex word: 0 clear,
// 1 set. Set wakes every waiter, but makes the wake-up system call only when
// the sleepers word says someone is parked.
//
// An Event has no owner; a process killed while waiting leaves the sleepers
// count one too high, which costs later Sets a system call and nothing else.
// The handle must not be copied after first use.
type Event struct {
	_        noCopy
	flag     *atomic.Uint32 // 0 clear, 1 set; the futex word; written by Set/Clear
	sleepers *atomic.Uint32 // waiters about to park or parked; read by Set
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
	raceRelease(e.flag)
	old := e.flag.Swap(1) // publishes: the flag; clear -> set
	if setHook != nil {
		setHook()
	}
	if old == 0 && e.sleepers.Load() != 0 {
		wakeReleased(e.flag, -1)
	}
}

// setHook, nil but in tests, runs in Set between its Swap and the wake: a
// test places there what a goroutine that saw the flag may do in that gap
// (unmap the Event's memory).
var setHook func()

// Clear clears the flag; later Waits block until the next Set.
func (e *Event) Clear() { e.flag.Store(0) } // set -> clear

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool {
	if e.flag.Load() != 0 { // observes: the flag
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
		e.sleepers.Add(1) // announce, then look again inside Await: Set reads it after its Swap
		t0 := spin.Now()
		err := atomics.Await(ctx, e.flag, 0, &opts)
		e.sleepers.Add(^uint32(0))
		if learn {
			e.spin.Parked(spell, t0, err == nil && e.flag.Load() != 0)
			learn = false
		}
		if err != nil {
			return e.IsSet()
		}
	}
}

// lookSet is the spin's look: one load of the flag.
func (e *Event) lookSet() bool { return e.flag.Load() != 0 }

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
