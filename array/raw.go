package array

import (
	"iter"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/shm"
)

// RawArray is a fixed-length array of T in shared memory with no lock and
// no seqlock: Python's multiprocessing.RawArray. Every access is a plain,
// unsynchronised one; its users order their processes themselves. The zero
// RawArray is not usable; it must not be copied after first use.
type RawArray[T any] struct {
	_ noCopy
	c *cell.Cell
	s []T
}

// NewRaw allocates a RawArray of n zero elements in this process's heap,
// as New does (Python's RawArray('i', n)); errors as New's.
func NewRaw[T any](n int) (*RawArray[T], error) { return NewRawFrom(make([]T, n)) }

// NewRawFrom allocates a RawArray holding a copy of vals in this process's
// heap, as NewFrom does.
func NewRawFrom[T any](vals []T) (*RawArray[T], error) {
	r := new(RawArray[T])
	return cell.OrNil(r, r.bind(cell.NewOf(shm.KindArray, true, vals)))
}

// CreateRaw allocates a RawArray of n zero elements; errors as Create's.
func CreateRaw[T any](seg *shm.Segment, name string, n int) (*RawArray[T], error) {
	return CreateRawFrom(seg, name, make([]T, n))
}

// CreateRawFrom allocates a RawArray holding a copy of vals.
func CreateRawFrom[T any](seg *shm.Segment, name string, vals []T) (*RawArray[T], error) {
	r := new(RawArray[T])
	return cell.OrNil(r, r.bind(cell.CreateOf(seg, name, shm.KindArray, true, vals)))
}

// OpenRaw finds the RawArray called name in seg; errors as Open's (a
// locked Array is ErrIncompatible here).
func OpenRaw[T any](seg *shm.Segment, name string) (*RawArray[T], error) {
	r := new(RawArray[T])
	return cell.OrNil(r, r.bind(cell.OpenOf[T](seg, name, shm.KindArray, true)))
}

func (r *RawArray[T]) bind(c *cell.Cell, s []T, err error) error {
	if err != nil {
		return err
	}
	r.c, r.s = c, s
	return nil
}

// Close gives up this handle's hold on the shared memory: the heap object
// of New (its heap segment is unmapped with the last such hold in this
// process), or the mapping a worker's decoded handle attached. A RawArray made
// by Create or Open lives in the caller's segment, which Close leaves
// mapped. Other processes' handles are not affected: the memory lives as
// long as any process maps it. Close is idempotent; the RawArray must not be
// used after it, nor while a call on it runs in another goroutine.
//
// A call after Close panics with a message saying so (Len is then 0,
// Slice nil); a slice that Slice returned before it must not be used after
// it.
func (r *RawArray[T]) Close() error {
	err := r.c.Close()
	r.s = nil
	return err
}

// Name returns the RawArray's name in its segment.
func (r *RawArray[T]) Name() string { return r.c.Name() }

// Len returns the number of elements.
func (r *RawArray[T]) Len() int { return len(r.s) }

// At returns element i. It panics with an error matching ErrOutOfRange
// unless 0 <= i < Len.
func (r *RawArray[T]) At(i int) T {
	checkIndex(r.c, i, len(r.s))
	return r.s[i]
}

// Set stores x in element i. It panics with an error matching
// ErrOutOfRange unless 0 <= i < Len.
func (r *RawArray[T]) Set(i int, x T) {
	checkIndex(r.c, i, len(r.s))
	r.s[i] = x
}

// Slice returns the elements as a []T over the shared memory: zero-copy
// and unsynchronised.
func (r *RawArray[T]) Slice() []T { return r.s }

// CopyTo copies min(len(dst), Len) elements into dst and returns how many.
func (r *RawArray[T]) CopyTo(dst []T) int {
	live(r.c, "CopyTo")
	return copy(dst, r.s)
}

// CopyFrom copies min(len(src), Len) elements from src and returns how many.
func (r *RawArray[T]) CopyFrom(src []T) int {
	live(r.c, "CopyFrom")
	return copy(r.s, src)
}

// All yields each index and element.
func (r *RawArray[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		live(r.c, "All")
		for i, x := range r.s {
			if !yield(i, x) {
				return
			}
		}
	}
}

// ReadAt implements io.ReaderAt over the bytes of the elements.
func (r *RawArray[T]) ReadAt(p []byte, off int64) (int, error) {
	live(r.c, "ReadAt")
	return readAt(r.c.Data, p, off, copyBytes)
}

// WriteAt implements io.WriterAt over the bytes of the elements; bytes
// past the end are not written, and the error then matches ErrOutOfRange.
func (r *RawArray[T]) WriteAt(p []byte, off int64) (int, error) {
	live(r.c, "WriteAt")
	return writeAt(r.c.Data, p, off, copyBytes)
}

func copyBytes(dst, src []byte) (int, error) { return copy(dst, src), nil }

// GobEncode encodes the RawArray as a handle, as Array's does.
func (r *RawArray[T]) GobEncode() ([]byte, error) { return r.c.GobEncode() }

// GobDecode attaches to the RawArray a handle names, in place.
func (r *RawArray[T]) GobDecode(b []byte) error {
	return r.bind(cell.DecodeOf[T](b, shm.KindArray, true))
}
