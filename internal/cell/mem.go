package cell

import (
	"fmt"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
)

// Slice is the one place package value and package array turn shared
// memory into typed Go values: it returns the n elements of type T that
// start at b[0], after checking that they fit in b and that b's address is
// aligned for T. The slice aliases the mapping and is valid only while the
// mapping is.
func Slice[T any](b []byte, n int) ([]T, error) {
	var zero T
	size, align := unsafe.Sizeof(zero), unsafe.Alignof(zero)
	if n < 0 || (size != 0 && uint64(n) > uint64(len(b))/uint64(size)) {
		return nil, fmt.Errorf("%w: %d elements of %d bytes in %d bytes", atomics.ErrOutOfRange, n, size, len(b))
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if p == nil {
		if n == 0 {
			return []T{}, nil
		}
		return nil, fmt.Errorf("%w: nil memory", atomics.ErrOutOfRange)
	}
	if uintptr(p)%align != 0 {
		return nil, fmt.Errorf("%w: address %#x is not %d-byte aligned", atomics.ErrMisaligned, uintptr(p), align)
	}
	return unsafe.Slice((*T)(p), n), nil
}

// Bits returns the bits of v, which must be a 4- or 8-byte value (the
// caller checks T's size once), zero-extended: the word that an
// atomic.Uint32 or atomic.Uint64 holding v holds. Package value uses it
// for its lock-free fast path.
func Bits[T any](v T) uint64 {
	if unsafe.Sizeof(v) == 8 {
		return *(*uint64)(unsafe.Pointer(&v))
	}
	return uint64(*(*uint32)(unsafe.Pointer(&v)))
}

// FromBits is the inverse of Bits.
func FromBits[T any](w uint64) (v T) {
	if unsafe.Sizeof(v) == 8 {
		*(*uint64)(unsafe.Pointer(&v)) = w
	} else {
		*(*uint32)(unsafe.Pointer(&v)) = uint32(w)
	}
	return v
}
