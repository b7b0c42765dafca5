package cell

import (
	"fmt"

	"github.com/shmkit/shmkit/internal/pod"
	"github.com/shmkit/shmkit/shm"
)

// SpecOf returns the spec of a cell of T, or an error matching
// shm.ErrUnsupportedType that names T's offending field.
func SpecOf[T any](kind shm.Kind, raw bool) (Spec, error) {
	id, err := pod.Of[T]()
	if err != nil {
		return Spec{}, fmt.Errorf("%v: %w", kind, err)
	}
	return Spec{Kind: kind, Type: id, Raw: raw}, nil
}

// CreateOf allocates a cell of T holding a copy of vals and returns it with
// its elements.
func CreateOf[T any](seg *shm.Segment, name string, kind shm.Kind, raw bool, vals []T) (*Cell, []T, error) {
	return fill(kind, raw, vals, func(sp Spec, init func([]byte)) (*Cell, error) { return Create(seg, name, sp, len(vals), init) })
}

// fill makes a cell of T with mk, filled with a copy of vals.
func fill[T any](kind shm.Kind, raw bool, vals []T, mk func(Spec, func([]byte)) (*Cell, error)) (*Cell, []T, error) {
	sp, err := SpecOf[T](kind, raw)
	if err != nil {
		return nil, nil, err
	}
	c, err := mk(sp, func(data []byte) {
		if s, err := Slice[T](data, len(vals)); err == nil {
			copy(s, vals) // else typed below reports it
		}
	})
	return typed[T](c, err)
}

// NewOf allocates a cell of T holding a copy of vals in this process's
// heap, as New does.
func NewOf[T any](kind shm.Kind, raw bool, vals []T) (*Cell, []T, error) {
	return fill(kind, raw, vals, func(sp Spec, init func([]byte)) (*Cell, error) { return New(sp, len(vals), init) })
}

// OpenOf opens the cell of T called name, as Open does.
func OpenOf[T any](seg *shm.Segment, name string, kind shm.Kind, raw bool) (*Cell, []T, error) {
	sp, err := SpecOf[T](kind, raw)
	if err != nil {
		return nil, nil, err
	}
	return typed[T](Open(seg, name, sp))
}

// DecodeOf attaches to the cell of T a handle names, as Decode does.
func DecodeOf[T any](b []byte, kind shm.Kind, raw bool) (*Cell, []T, error) {
	sp, err := SpecOf[T](kind, raw)
	if err != nil {
		return nil, nil, err
	}
	return typed[T](Decode(b, sp))
}

// typed returns c with its elements as a []T over the shared memory.
func typed[T any](c *Cell, err error) (*Cell, []T, error) {
	if err != nil {
		return nil, nil, err
	}
	s, err := Slice[T](c.Data, c.Len)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%v %q: %w", c.Spec.Kind, c.Name(), err)
	}
	return c, s, nil
}

// OrNil returns p, or the zero P (a nil pointer) with err when err is not
// nil: constructors return no half-made handle.
func OrNil[P any](p P, err error) (P, error) {
	if err != nil {
		var zero P
		return zero, err
	}
	return p, nil
}
