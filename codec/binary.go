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
	if n := len(dst); c.size > 0 && cap(dst)-n >= c.size {
		dst = dst[:n+c.size]
		copyPlain(unsafe.Pointer(&dst[n]), unsafe.Pointer(v), c.size)
		return dst, nil
	}
	return append(dst, c.bytes(v)...), nil
}

// Decode copies src, which must be exactly the size of T, into *v. A
// bool whose byte is neither 0 nor 1 is ErrDecode, and leaves *v zero.
func (c *Binary[T]) Decode(src []byte, v *T) error {
	if len(src) != c.size || len(c.bools) != 0 {
		return c.decode(src, v)
	}
	copyPlain(unsafe.Pointer(v), unsafe.Pointer(unsafe.SliceData(src)), c.size)
	return nil
}

// copyPlain copies n bytes from src to dst. A queue moves every message
// through Append and Decode, and memmove, a call, was a quarter of a
// GetBatch consumer's time for 64-byte values (a T's own copy in generic
// code is that same call). Up to copyPlainMax bytes in whole words, from
// and to places that do not overlap, it copies 16, then 8 bytes at a
// time, moves the compiler makes without a call; anything else takes copy
// (which also copies overlapping bytes right: a *T that lies in the
// slice it is appended to or decoded from).
func copyPlain(dst, src unsafe.Pointer, n int) {
	d, s := uintptr(dst), uintptr(src)
	if n > copyPlainMax || n%8 != 0 || (d < s+uintptr(n) && s < d+uintptr(n)) {
		copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(src), n))
		return
	}
	i := 0
	for ; i+16 <= n; i += 16 {
		*(*[16]byte)(unsafe.Add(dst, i)) = *(*[16]byte)(unsafe.Add(src, i))
	}
	if i < n {
		*(*[8]byte)(unsafe.Add(dst, i)) = *(*[8]byte)(unsafe.Add(src, i))
	}
}

// copyPlainMax is the longest copy copyPlain makes itself.
const copyPlainMax = 256

func (c *Binary[T]) decode(src []byte, v *T) error {
	if len(src) != c.size {
		return fmt.Errorf("%w: binary: %d bytes for a %d-byte %v", ErrDecode, len(src), c.size, reflect.TypeFor[T]())
	}
	// The bools are checked in *v, after the copy: src may be shared
	// memory that a peer still writes, and a byte changed after a check
	// of src reached *v (TestBinaryBoolChangedAfterCheck).
	b := c.bytes(v)
	copy(b, src)
	if testHookBoolsChecked != nil {
		testHookBoolsChecked()
	}
	for _, off := range c.bools {
		if b[off] > 1 {
			err := fmt.Errorf("%w: binary: byte %d of a bool at offset %d", ErrDecode, b[off], off)
			var zero T
			*v = zero // no bool of *v holds it
			return err
		}
	}
	return nil
}

// testHookBoolsChecked, nil but in tests, runs where decode has read src
// and not yet checked its bools (before, between its check of src and its
// copy of src).
var testHookBoolsChecked func()

// bytes views *v as its bytes (Append, Decode and copyPlain use unsafe
// the same way; binary.go is the package's one file with unsafe). T is
// pointer-free (NewBinary checked), so its bytes may be read and written as
// such.
func (c *Binary[T]) bytes(v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), c.size)
}
