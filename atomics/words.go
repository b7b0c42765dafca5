package atomics

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Uint32At returns the 32-bit atomic word at byte offset off of mem. The
// offset must be 4-byte aligned (in absolute address) and the word must lie
// inside mem; otherwise it returns ErrMisaligned or ErrOutOfRange.
// The word aliases mem: it is valid only while the mapping is.
func Uint32At(mem []byte, off int) (*atomic.Uint32, error) {
	p, err := wordAt(mem, off, 4)
	return (*atomic.Uint32)(p), err
}

// Uint64At is Uint32At for 64-bit words (8-byte aligned).
func Uint64At(mem []byte, off int) (*atomic.Uint64, error) {
	p, err := wordAt(mem, off, 8)
	return (*atomic.Uint64)(p), err
}

// Int64At is Uint32At for signed 64-bit words (8-byte aligned).
func Int64At(mem []byte, off int) (*atomic.Int64, error) {
	p, err := wordAt(mem, off, 8)
	return (*atomic.Int64)(p), err
}

// Int32At is Uint32At for signed 32-bit words (4-byte aligned).
func Int32At(mem []byte, off int) (*atomic.Int32, error) {
	p, err := wordAt(mem, off, 4)
	return (*atomic.Int32)(p), err
}

// MustUint32At is Uint32At for offsets that come from a layout's constants,
// where a bad offset is a programming error: it panics instead of returning.
func MustUint32At(mem []byte, off int) *atomic.Uint32 {
	w, err := Uint32At(mem, off)
	if err != nil {
		panic(err)
	}
	return w
}

// MustUint64At is the panicking form of Uint64At.
func MustUint64At(mem []byte, off int) *atomic.Uint64 {
	w, err := Uint64At(mem, off)
	if err != nil {
		panic(err)
	}
	return w
}

// MustInt64At is the panicking form of Int64At.
func MustInt64At(mem []byte, off int) *atomic.Int64 {
	w, err := Int64At(mem, off)
	if err != nil {
		panic(err)
	}
	return w
}

// wordAt is the one place this package turns a mapping into a typed pointer.
func wordAt(mem []byte, off, size int) (unsafe.Pointer, error) {
	if off < 0 || size > len(mem) || off > len(mem)-size {
		return nil, fmt.Errorf("%w: offset %d size %d in %d bytes", ErrOutOfRange, off, size, len(mem))
	}
	p := unsafe.Pointer(unsafe.SliceData(mem))
	p = unsafe.Add(p, off)
	if uintptr(p)%uintptr(size) != 0 {
		return nil, fmt.Errorf("%w: offset %d is not %d-byte aligned", ErrMisaligned, off, size)
	}
	return p, nil
}
