//go:build linux

package atomics

import (
	"os"
	"runtime"
	"sync"
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
	futexWakeBitset = 10
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
		if err, retry := waitErr(futexWaitRaw(addr, val, ts), "futex_wait"); !retry {
			return err
		}
	}
}

// waitErr is what a futex wait that ended with e returns: nil when woken
// or when the word no longer held the value, ErrTimeout; retry for EINTR.
func waitErr(e unix.Errno, call string) (err error, retry bool) {
	switch e {
	case 0, unix.EAGAIN:
		return nil, false
	case unix.EINTR:
		return nil, true
	case unix.ETIMEDOUT:
		return ErrTimeout, false
	}
	return os.NewSyscallError(call, e), false
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

// futex_waitv(2) (Linux 5.16) waits on several words at once. A parked
// Await whose context can be cancelled sleeps on its shared word and on a
// word of its own in this process's memory, which the cancel wakes: a
// wake of the shared word instead would wake every sleeper on it, in
// every process, and each of them would return early and start its poll
// period afresh (a waiter beside one whose waits are cancelled more often
// than its period never ran its Check). The own word is private
// (FUTEX2_PRIVATE, as FUTEX_PRIVATE_FLAG): nobody outside this process
// waits on it.
const (
	futex2SizeU32 = 0x02
	futex2Private = 128
	futexWakePriv = futexWake | 128 // FUTEX_WAKE_PRIVATE
)

// futexWaitv is struct futex_waitv (linux/futex.h).
type futexWaitv struct {
	val   uint64
	uaddr uint64
	flags uint32
	_     uint32
}

var (
	waitvOnce sync.Once
	waitvOK   bool
	noWaitv   atomic.Bool // tests: behave as where futex_waitv is missing
)

// haveWaitv reports whether futex_waitv runs here: not before Linux 5.16,
// nor where a seccomp filter refuses it (the old way is used there: a
// cancel wakes the shared word). Probed once, with a word that does not
// hold the value waited for: EAGAIN at once where the call exists.
func haveWaitv() bool {
	if noWaitv.Load() {
		return false
	}
	waitvOnce.Do(func() {
		var word, own atomic.Uint32
		word.Store(1)
		waitvOK = waitOrCancel(&word, 0, &own, time.Millisecond) == nil
	})
	return waitvOK
}

// waitOrCancel is Wait (timeout > 0) that also returns, nil, once
// *cancel is not 0 and wakeCancel has been called on it.
func waitOrCancel(w *atomic.Uint32, val uint32, cancel *atomic.Uint32, timeout time.Duration) error {
	// struct __kernel_timespec: 64-bit fields on every architecture,
	// unlike unix.Timespec on 32-bit ones. Absolute: EINTR retries keep it.
	end := monoNow() + int64(timeout)
	deadline := struct{ sec, nsec int64 }{end / 1e9, end % 1e9}
	ws := [2]futexWaitv{
		{val: uint64(val), uaddr: uint64(uintptr(unsafe.Pointer(w))), flags: futex2SizeU32},
		{val: 0, uaddr: uint64(uintptr(unsafe.Pointer(cancel))), flags: futex2SizeU32 | futex2Private},
	}
	defer runtime.KeepAlive(cancel)
	for {
		_, _, e := unix.Syscall6(unix.SYS_FUTEX_WAITV, uintptr(unsafe.Pointer(&ws[0])), 2, 0,
			uintptr(unsafe.Pointer(&deadline)), unix.CLOCK_MONOTONIC, 0)
		if err, retry := waitErr(e, "futex_waitv"); !retry {
			return err
		}
	}
}

// wakeCancel wakes the sleeper of waitOrCancel on cancel (a word of this
// process's memory: never unmapped, so a wake after the sleeper has left
// wakes nobody and is harmless).
func wakeCancel(cancel *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(cancel)), futexWakePriv, 1<<31-1, 0, 0, 0)
}

// cancelBit is this process's bit in the bitset of its sleepers' futex
// waits where futex_waitv is missing (see cancelWake): FUTEX_WAKE, which
// every waker uses, wakes a waiter with any bit, and a cancel's
// FUTEX_WAKE_BITSET of this bit only the sleepers of processes whose PIDs
// agree modulo 32 (then a spurious wake, as every cancel was before).
var cancelBit atomic.Uint32

func init() { cancelBit.Store(1 << (uint32(os.Getpid()) % 32)) }

// monoBase and monoStart are CLOCK_MONOTONIC and the time, read together
// once: monoNow reads CLOCK_MONOTONIC as monoBase plus the time since
// monoStart, whose monotonic reading is the runtime's CLOCK_MONOTONIC
// through the vDSO. unix.ClockGettime is a system call: one for each
// sleep doubled what a park costs.
var (
	monoBase  int64
	monoStart = time.Now()
)

func init() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("atomics: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	monoBase = ts.Nano() - int64(time.Since(monoStart))
}

// monoNow is CLOCK_MONOTONIC in nanoseconds (futex deadlines' clock),
// without a system call.
func monoNow() int64 { return monoBase + int64(time.Since(monoStart)) }

// waitBit is Wait (timeout > 0) as a FUTEX_WAIT_BITSET of bit: woken by
// FUTEX_WAKE, and by FUTEX_WAKE_BITSET of a mask that has bit.
func waitBit(w *atomic.Uint32, val, bit uint32, timeout time.Duration) error {
	// Absolute, on CLOCK_MONOTONIC (FUTEX_WAIT_BITSET's clock without
	// FUTEX_CLOCK_REALTIME): EINTR retries keep it.
	deadline := unix.NsecToTimespec(monoNow() + int64(timeout))
	for {
		_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitBitset,
			uintptr(val), uintptr(unsafe.Pointer(&deadline)), 0, uintptr(bit))
		if err, retry := waitErr(e, "futex_wait_bitset"); !retry {
			return err
		}
	}
}

// wakeBit wakes the waiters on w whose bitset has bit (waitBit's), in any
// process.
func wakeBit(w *atomic.Uint32, bit uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeBitset, 1<<31-1, 0, 0, uintptr(bit))
}
