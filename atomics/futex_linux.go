//go:build linux

package atomics

import (
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations from linux/futex.h. golang.org/x/sys/unix has SYS_FUTEX
// but neither the constants nor a wrapper. FUTEX_PRIVATE_FLAG (128) is left
// out on purpose: the waiters are in other processes.
const (
	futexWait       = 0
	futexWake       = 1
	futexWaitBitset = 9
	futexBitsetAny  = 0xffffffff
)

// futexWaitRaw makes one FUTEX_WAIT call. ts == nil waits without a timeout.
func futexWaitRaw(addr *uint32, val uint32, ts *unix.Timespec) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWait,
		uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
	return e
}

// futexWakeRaw makes one FUTEX_WAKE call and returns how many were woken.
func futexWakeRaw(addr *uint32, n int) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake,
		uintptr(n), 0, 0, 0)
	return int(r), e
}

// Wait blocks the calling thread while *w == val, for at most timeout
// (timeout <= 0 waits without a limit). It returns nil when woken or when the
// word no longer held val at the call (EAGAIN), ErrTimeout when the time ran
// out. EINTR is retried with the time that is left. Wakeups may be spurious:
// callers re-check their condition.
func Wait(w *atomic.Uint32, val uint32, timeout time.Duration) error {
	addr := (*uint32)(unsafe.Pointer(w))
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var ts *unix.Timespec
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrTimeout
			}
			t := unix.NsecToTimespec(int64(left))
			ts = &t
		}
		switch e := futexWaitRaw(addr, val, ts); e {
		case 0, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		case unix.ETIMEDOUT:
			return ErrTimeout
		default:
			return os.NewSyscallError("futex_wait", e)
		}
	}
}

// Wake wakes at most n threads waiting on w, in any process, and returns how
// many it woke. n < 0 wakes all of them.
func Wake(w *atomic.Uint32, n int) int {
	if n < 0 {
		n = 1<<31 - 1
	}
	r, e := futexWakeRaw((*uint32)(unsafe.Pointer(w)), n)
	if e != 0 {
		// FUTEX_WAKE fails only for a bad address or bad flags, both
		// programming errors here.
		panic("atomics: futex_wake: " + e.Error())
	}
	return r
}
