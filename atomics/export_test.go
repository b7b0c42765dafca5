package atomics

import (
	"sync/atomic"
	"unsafe"
)

// Parked reports how many goroutines are registered to park on w and
// whether one of them sleeps (or is about to sleep) in the kernel.
func Parked(w *atomic.Uint32) (users int, sleeping bool) {
	addr := uintptr(unsafe.Pointer(w))
	groupsMu.Lock()
	g := groups[addr]
	if g != nil {
		users = g.users
	}
	groupsMu.Unlock()
	if g == nil {
		return 0, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return users, g.sleeping
}

// HaveWaitv reports whether futex_waitv runs here (see cancelWake).
func HaveWaitv() bool { return haveWaitv() }

// NoWaitv makes this process behave as where futex_waitv is missing
// (Linux before 5.16, or a seccomp filter that refuses it), or not, and
// returns the setting it replaces.
func NoWaitv(on bool) bool { return noWaitv.Swap(on) }

// SetCancelBit sets this process's bit for its sleepers' FUTEX_WAIT_BITSET
// where futex_waitv is missing (see cancelBit), and returns the old one.
func SetCancelBit(bit uint32) uint32 { return cancelBit.Swap(bit) }
