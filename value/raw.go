package value

import (
	"fmt"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/shm"
)

// RawValue is a T in shared memory with no lock and no seqlock: Python's
// multiprocessing.RawValue. Load and Store are plain copies; a Load that
// races with a Store may see a torn T. Its users synchronise it themselves
// (a semaphore.Mutex, a barrier, or a single writer that finishes before
// the readers start). The zero RawValue is not usable; it must not be
// copied after first use.
type RawValue[T any] struct {
	_ noCopy
	c *cell.Cell
	p *T
}

// NewRaw allocates a RawValue holding init in this process's heap, as New
// does (Python's RawValue('i', 0)); errors as New's.
func NewRaw[T any](init T) (*RawValue[T], error) {
	r := new(RawValue[T])
	return cell.OrNil(r, r.bind(cell.NewOf(shm.KindValue, true, []T{init})))
}

// CreateRaw allocates a RawValue called name in seg, holding init; errors
// as Create's.
func CreateRaw[T any](seg *shm.Segment, name string, init T) (*RawValue[T], error) {
	r := new(RawValue[T])
	return cell.OrNil(r, r.bind(cell.CreateOf(seg, name, shm.KindValue, true, []T{init})))
}

// OpenRaw finds the RawValue called name in seg; errors as Open's (a
// locked Value is ErrIncompatible here).
func OpenRaw[T any](seg *shm.Segment, name string) (*RawValue[T], error) {
	r := new(RawValue[T])
	return cell.OrNil(r, r.bind(cell.OpenOf[T](seg, name, shm.KindValue, true)))
}

func (r *RawValue[T]) bind(c *cell.Cell, s []T, err error) error {
	if err != nil {
		return err
	}
	if len(s) != 1 {
		c.Close()
		return fmt.Errorf("%w: value %q holds %d elements", ErrCorrupt, c.Name(), len(s))
	}
	r.c, r.p = c, &s[0]
	return nil
}

// Close gives up this handle's hold on the shared memory: the heap object
// of New (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A RawValue made
// by Create or Open lives in the caller's segment, which Close leaves
// mapped. Other processes' handles are not affected: the memory lives as
// long as any process maps it. Close is idempotent; the RawValue must not be
// used after it, nor while a call on it runs in another goroutine.
//
// A call after Close panics with a message saying so; a pointer that Ptr
// returned before it must not be used after it.
func (r *RawValue[T]) Close() error {
	err := r.c.Close()
	r.p = nil
	return err
}

// Name returns the RawValue's name in its segment.
func (r *RawValue[T]) Name() string { return r.c.Name() }

// Load returns a plain copy of the value (unsynchronised).
func (r *RawValue[T]) Load() T {
	if r.p == nil { // the nil check the load makes anyway: free
		r.c.PanicClosed("Load")
	}
	return *r.p
}

// Store sets the value with a plain copy (unsynchronised).
func (r *RawValue[T]) Store(x T) {
	if r.p == nil {
		r.c.PanicClosed("Store")
	}
	*r.p = x
}

// Ptr returns a pointer to the T in shared memory: zero-copy access,
// unsynchronised, valid while the segment is mapped and until Close (nil
// after it).
func (r *RawValue[T]) Ptr() *T { return r.p }

// GobEncode encodes the RawValue as a handle, as Value's does.
func (r *RawValue[T]) GobEncode() ([]byte, error) { return r.c.GobEncode() }

// GobDecode attaches to the RawValue a handle names, in place.
func (r *RawValue[T]) GobDecode(b []byte) error {
	return r.bind(cell.DecodeOf[T](b, shm.KindValue, true))
}
