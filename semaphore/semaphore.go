package semaphore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// The Semaphore's value word is the futex word:
//
//	bits 0-30   units available (never above math.MaxInt32)
//	bit 31      semSleeping: a waiter parks (or is about to) on the word
//
// Transitions: units -> units-n, the mark kept (Acquire, CAS);
// units -> units|semSleeping (a waiter that finds too few units, CAS,
// before it parks); units* -> units+n, the mark cleared (Release, CAS; it
// wakes every sleeper when the word it replaced had semSleeping, and those
// still short of units mark the word again before they park). The mark is
// in the word Release's CAS replaces, not in a word beside it, because
// nothing of the Semaphore may be read after that CAS: a goroutine of this
// process that takes the units may finish with the Semaphore and unmap its
// memory before Release's next instruction (see wakeReleased). A waiter
// killed while parked leaves semSleeping set, which costs the next Release
// a wake for nobody.
const (
	semSleeping = 1 << 31
	semUnits    = semSleeping - 1
)

// Semaphore is a counting semaphore shared between processes (Python's
// multiprocessing Semaphore and BoundedSemaphore). Its value is the futex
// word itself: Acquire takes units with a CAS when enough are there and
// otherwise marks the word as slept on and parks on it; Release adds units
// with a CAS and makes the wake-up system call only when the word it
// replaced was marked.
//
// A Semaphore has no owner: units taken by a process that dies are not
// given back (as with POSIX and Python semaphores). A process killed while
// parked leaves the word marked, which costs the next Release a wake-up
// system call and nothing else.
//
// A bounded Semaphore refuses a Release that would raise its value past the
// initial value (ErrOverRelease), which catches releases without acquires.
//
// The handle must not be copied after first use; its methods are safe for
// concurrent use by any goroutines and processes.
type Semaphore struct {
	_        noCopy
	value    *atomic.Uint32 // see above; the futex word; written by Acquire, Release and waiters before parking
	sleepers *atomic.Uint32 // waiters parked, for observers (Release does not read it)
	bound    uint32         // 0 = unbounded; fixed at creation
	ref      ref
	spin     spin.Adaptive // this handle's learnt spin (process-local)
}

// NewSemaphore creates a Semaphore with value units (Python's
// Semaphore(value)) in this process's heap of shared memory: no segment,
// no name, no size. Small objects share a few anonymous segments (see
// docs/cells.md); the handle reaches worker processes as an argument of
// process.Start, as queues do. Close gives it up. It returns
// shm.ErrNoSpace when the memory of a new heap segment
// cannot be reserved (a memfd: /dev/shm's size does not bound it).
func NewSemaphore(value int) (*Semaphore, error) { return placeSemaphore(value, false) }

// NewBoundedSemaphore creates a bounded Semaphore (Python's
// BoundedSemaphore(value)), in this process's heap as NewSemaphore does:
// releasing past value units is an error.
func NewBoundedSemaphore(value int) (*Semaphore, error) { return placeSemaphore(value, true) }

func placeSemaphore(value int, bounded bool) (*Semaphore, error) {
	return place(shm.KindSemaphore, SemaphoreSize, func(mem []byte) (*Semaphore, error) {
		return InitSemaphore(mem, value, bounded)
	})
}

// CreateSemaphore creates a Semaphore called name in seg with value units
// (kind shm.KindSemaphore).
func CreateSemaphore(seg *shm.Segment, name string, value int) (*Semaphore, error) {
	return newSemaphore(seg, name, value, false)
}

// CreateBoundedSemaphore creates a bounded Semaphore: releasing past value
// units is an error.
func CreateBoundedSemaphore(seg *shm.Segment, name string, value int) (*Semaphore, error) {
	return newSemaphore(seg, name, value, true)
}

func newSemaphore(seg *shm.Segment, name string, value int, bounded bool) (*Semaphore, error) {
	return create(seg, name, shm.KindSemaphore, SemaphoreSize, func(mem []byte) (*Semaphore, error) {
		return InitSemaphore(mem, value, bounded)
	})
}

// OpenSemaphore opens the Semaphore called name in seg.
func OpenSemaphore(seg *shm.Segment, name string) (*Semaphore, error) {
	return open(seg, name, shm.KindSemaphore, SemaphoreSize, SemaphoreAt)
}

// InitSemaphore writes a Semaphore with value units into the first
// SemaphoreSize bytes of mem (8-byte aligned) for an object that embeds one.
func InitSemaphore(mem []byte, value int, bounded bool) (*Semaphore, error) {
	if value < 0 || value > math.MaxInt32 {
		return nil, fmt.Errorf("semaphore: initial value %d out of range", value)
	}
	if bounded && value == 0 {
		return nil, errors.New("semaphore: a bounded semaphore needs an initial value above zero")
	}
	r, err := region(mem, SemaphoreSize, "Semaphore")
	if err != nil {
		return nil, err
	}
	clear(r)
	putLE32(r[semOffValue:], uint32(value))
	if bounded {
		putLE32(r[semOffBound:], uint32(value))
	}
	putLE32(r[semOffMagic:], magicSemaphore)
	return semaphoreAt(r)
}

// SemaphoreAt returns a handle on the Semaphore InitSemaphore wrote at mem.
func SemaphoreAt(mem []byte) (*Semaphore, error) {
	r, err := region(mem, SemaphoreSize, "Semaphore")
	if err != nil {
		return nil, err
	}
	if err := checkMagic(r, semOffMagic, magicSemaphore, "Semaphore"); err != nil {
		return nil, err
	}
	return semaphoreAt(r)
}

func semaphoreAt(r []byte) (*Semaphore, error) {
	v, err := atomics.Uint32At(r, semOffValue)
	if err != nil {
		return nil, err
	}
	sl, err := atomics.Uint32At(r, semOffSleepers)
	if err != nil {
		return nil, err
	}
	return &Semaphore{value: v, sleepers: sl, bound: le32(r[semOffBound:])}, nil
}

// Acquire takes n units, waiting as long as it takes (Python's
// acquire()). Units are taken all at once. It panics if n is not positive
// or exceeds a bounded Semaphore's bound, which no wait could satisfy.
func (s *Semaphore) Acquire(n int) {
	if err := s.AcquireContext(context.Background(), n); err != nil {
		panic(err.Error())
	}
}

// AcquireContext takes n units, blocking until they are there or ctx ends
// (then it returns ctx's error and takes nothing). Units are taken all at
// once. An n that is not positive or exceeds a bounded Semaphore's bound
// is an error.
func (s *Semaphore) AcquireContext(ctx context.Context, n int) error {
	if n <= 0 || n > math.MaxInt32 || s.bound != 0 && uint32(n) > s.bound {
		return fmt.Errorf("semaphore: Acquire(%d) out of range", n)
	}
	want := uint32(n)
	var spell spin.Spell
	spun, learn := false, true
	for {
		v := s.value.Load()
		if v&semUnits >= want {
			if s.value.CompareAndSwap(v, v-want) { // take n units, the mark kept
				raceAcquire(s.value)
				return nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err // done already: not after a spin
		}
		if !spun {
			// The shared wait of package spin: one load a look; a look
			// that finds the units there goes back to the CAS above.
			spun = true
			var ok bool
			if spell, ok = s.spin.Spin(waitRounds, spin.Yielding, func() bool { return s.value.Load()&semUnits >= want }); ok {
				continue
			}
		}
		if v&semSleeping == 0 && !s.value.CompareAndSwap(v, v|semSleeping) { // units -> units, sleeping: Release's CAS sees it
			continue
		}
		v |= semSleeping
		s.sleepers.Add(1)
		t0 := spin.Now()
		err := atomics.Await(ctx, s.value, v, &parkNow)
		s.sleepers.Add(^uint32(0))
		if learn {
			s.spin.Parked(spell, t0, err == nil && s.value.Load() != v)
			learn = false
		}
		if err != nil {
			return err
		}
	}
}

// TryAcquire takes n units if they are there, and reports whether it did.
func (s *Semaphore) TryAcquire(n int) bool {
	if n <= 0 || n > math.MaxInt32 {
		return false
	}
	for {
		v := s.value.Load()
		if v&semUnits < uint32(n) {
			return false
		}
		if s.value.CompareAndSwap(v, v-uint32(n)) { // take n units, the mark kept
			raceAcquire(s.value)
			return true
		}
	}
}

// Release gives n units back and wakes waiters. On a bounded Semaphore a
// Release past the initial value returns ErrOverRelease and changes nothing.
func (s *Semaphore) Release(n int) error {
	if n <= 0 || n > math.MaxInt32 {
		return fmt.Errorf("semaphore: Release(%d) out of range", n)
	}
	value, bound := s.value, s.bound // nothing of the handle or the Semaphore is read after the CAS (see semSleeping)
	var v uint32
	for {
		v = value.Load()
		units := v & semUnits
		nv := uint64(units) + uint64(n)
		if bound != 0 && nv > uint64(bound) {
			return fmt.Errorf("%w: value %d + %d > bound %d", ErrOverRelease, units, n, bound)
		}
		if nv > math.MaxInt32 {
			return fmt.Errorf("semaphore: value %d + %d overflows", units, n)
		}
		raceRelease(value)
		if value.CompareAndSwap(v, uint32(nv)) { // publishes: the units; units* -> units+n, the mark cleared
			break
		}
	}
	if releaseHook != nil {
		releaseHook()
	}
	if v&semSleeping != 0 {
		wakeReleased(value, -1) // waiters want different n: let them all look (and mark again)
	}
	return nil
}

// releaseHook, nil but in tests, runs in Release between its CAS and the
// wake: a test places there what a goroutine that took the units may do in
// that gap (unmap the Semaphore's memory).
var releaseHook func()

// Value returns the number of units available now.
func (s *Semaphore) Value() int { return int(s.value.Load() & semUnits) }

// Bounded reports whether s is bounded, and its bound.
func (s *Semaphore) Bounded() (bool, int) { return s.bound != 0, int(s.bound) }

// Close gives up this handle's hold on shared memory: the heap object of
// NewSemaphore (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A Semaphore
// from CreateSemaphore or OpenSemaphore lives in the caller's segment, which Close
// leaves mapped. Other processes' handles are not affected. Close
// is idempotent; the Semaphore must not be used after it, nor while a call on
// it runs in another goroutine: a call after it panics (the handle no
// longer points at the shared memory), and GobEncode returns an error.
func (s *Semaphore) Close() error { return closeHandle(s, &s.ref) }

// GobEncode encodes the Semaphore's handle (segment, name, kind); a closed
// one is refused.
func (s *Semaphore) GobEncode() ([]byte, error) { return s.ref.encode("Semaphore") }

// GobDecode attaches the Semaphore that GobEncode named.
func (s *Semaphore) GobDecode(b []byte) error {
	return decode(s, b, shm.KindSemaphore, SemaphoreSize, SemaphoreAt)
}

// adopt takes the words of from (a view of the same memory) and records r.
func (s *Semaphore) adopt(from *Semaphore, r ref) {
	s.value, s.sleepers, s.bound, s.ref = from.value, from.sleepers, from.bound, r
}
