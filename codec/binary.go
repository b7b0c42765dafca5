package codec

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Binary is the codec for fixed-size, pointer-free T: the encoding is T's
// in-memory bytes (native byte order: both ends share a machine), written
// with one copy and no allocation. Make it with NewBinary, which checks T.
//
// A bool whose byte is neither 0 nor 1 is refused on Decode: Go's
// compiler assumes those two values only.
type Binary[T any] struct {
	size  int
	bools []uintptr // offsets of bool fields, checked on Decode
}

// NewBinary returns the binary codec for T, or an error matching
// shm.ErrUnsupportedType that names the first field of T holding a pointer,
// string, slice, map, interface, channel or function.
func NewBinary[T any]() (*Binary[T], error) {
	t := reflect.TypeFor[T]()
	if err := checkPod(t); err != nil {
		return nil, fmt.Errorf("codec: binary: %w", err)
	}
	c := &Binary[T]{size: int(t.Size())}
	c.bools = boolOffsets(t, 0, c.bools)
	return c, nil
}

// MustBinary is NewBinary for types known to qualify; it panics otherwise.
func MustBinary[T any]() *Binary[T] {
	c, err := NewBinary[T]()
	if err != nil {
		panic(err)
	}
	return c
}

func boolOffsets(t reflect.Type, base uintptr, out []uintptr) []uintptr {
	switch t.Kind() {
	case reflect.Bool:
		out = append(out, base)
	case reflect.Array:
		if t.Len() > 0 && hasBool(t.Elem()) {
			for i := 0; i < t.Len(); i++ {
				out = boolOffsets(t.Elem(), base+uintptr(i)*t.Elem().Size(), out)
			}
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			out = boolOffsets(f.Type, base+f.Offset, out)
		}
	}
	return out
}

func hasBool(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasBool(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasBool(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// Size returns the size of T.
func (c *Binary[T]) Size(*T) int { return c.size }

// Append appends the bytes of *v to dst; it does not allocate when dst has
// room for them.
func (c *Binary[T]) Append(dst []byte, v *T) ([]byte, error) {
	return append(dst, c.bytes(v)...), nil
}

// Decode copies src, which must be exactly the size of T, into *v.
func (c *Binary[T]) Decode(src []byte, v *T) error {
	if len(src) == c.size && len(c.bools) == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(src)))%unsafe.Alignof(*v) == 0 {
		// The common case: T's own copy (vector moves for a small T)
		// rather than memmove through a byte slice of *v. A queue's
		// GetBatch of [64]byte, one producer: 36.6 -> 41.3 M msgs/s
		// (medians of 4 interleaved passes). An unaligned src would be
		// a misaligned *T (checkptr refuses one): it takes the copy.
		*v = *(*T)(unsafe.Pointer(unsafe.SliceData(src)))
		return nil
	}
	return c.decode(src, v)
}

func (c *Binary[T]) decode(src []byte, v *T) error {
	if len(src) != c.size {
		return fmt.Errorf("%w: binary: %d bytes for a %d-byte %v", ErrDecode, len(src), c.size, reflect.TypeFor[T]())
	}
	for _, off := range c.bools {
		if src[off] > 1 {
			return fmt.Errorf("%w: binary: byte %d of a bool at offset %d", ErrDecode, src[off], off)
		}
	}
	copy(c.bytes(v), src)
	return nil
}

// bytes views *v as its bytes: the one use of unsafe in this package. T is
// pointer-free (NewBinary checked), so its bytes may be read and written as
// such.
func (c *Binary[T]) bytes(v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), c.size)
}
