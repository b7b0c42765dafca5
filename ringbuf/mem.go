package ringbuf

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// This file is the one place the package turns mapped bytes into typed
// atomic words. Every caller passes an offset it has already checked against
// the ring's geometry; the checks here catch programming errors only, and
// the slice index keeps even those inside the mapping.

// u64 returns the 64-bit word at off of b. off must be 8-aligned (b itself
// starts on a cache line, see mapCheck) and off+8 <= len(b).
func u64(b []byte, off uint64) *atomic.Uint64 {
	_ = b[off+7]
	return (*atomic.Uint64)(unsafe.Pointer(&b[off]))
}

// plain64 returns the word at off of b for plain (non-atomic) access: an
// SPSC producer fills a record's header this way before the atomic store of
// the tail publishes it.
func plain64(b []byte, off uint64) *uint64 {
	_ = b[off+7]
	return (*uint64)(unsafe.Pointer(&b[off]))
}

// u32 returns the 32-bit word at off of b (4-aligned, inside b).
func u32(b []byte, off uint64) *atomic.Uint32 {
	_ = b[off+3]
	return (*atomic.Uint32)(unsafe.Pointer(&b[off]))
}

// mapCheck verifies that body starts on an 8-byte boundary, which the shm
// object directory guarantees (objects and their bodies are CacheLine
// aligned); every offset the package computes is then naturally aligned.
func mapCheck(body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty ring body", ErrCorrupt)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(body)))%8 != 0 {
		return fmt.Errorf("%w: ring body not 8-byte aligned", ErrCorrupt)
	}
	return nil
}

// noCopy may be embedded into structs which must not be copied after first
// use; go vet's copylocks check reports copies.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
