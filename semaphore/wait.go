package semaphore

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
)

// waitRounds is the base of the spin that Mutex, Event, Semaphore, Cond
// and Barrier waits make before they park: 8 of package spin's relaxed
// rounds, about as long as the 100 plain looks these waits made before.
// Each handle learns from there (spin.Adaptive, up to spin.MaxGrowth
// times the base, yielding the CPU past it). An Event ping-pong between
// two processes on a loaded 2-core machine (5 interleaved runs) had its
// p50 at a median 0.80x the futex floor of the same run with this base,
// 1.15x with 64 rounds (a spin of microseconds holds the CPU that the
// woken peer needs), 0.90x with the old fixed spin.
const waitRounds = atomics.DefaultSpin / spin.RelaxChecks / 8

// parkNow are the options of an Await that follows the handle's own spin:
// no second spin inside Await.
var parkNow = atomics.WaitOptions{Spin: 1}

// wakeReleased wakes up to n (all: -1) sleepers on w after the caller's
// store or CAS released w's object: the lock freed, the flag set, units
// added. From that store on, a goroutine of this process that saw it may
// take the object, finish with it and unmap its memory (as a sync.Mutex
// may be freed once unlocked), so w may no longer be mapped here when the
// wake is made. FUTEX_WAKE then fails with EFAULT, and there is nobody of
// this mapping left to wake: the sleepers of other processes sleep on
// their own mappings, and see the release at their next poll or wake.
// atomics.Wake panics on that error; this ignores it, as glibc's unlock
// does.
//
// The futex is shared (no FUTEX_PRIVATE_FLAG): its sleepers are other
// processes.
func wakeReleased(w *atomic.Uint32, n int) {
	if n < 0 {
		n = 1<<31 - 1
	}
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWake, uintptr(n), 0, 0, 0)
	if e != 0 && e != unix.EFAULT {
		panic("semaphore: futex_wake: " + e.Error()) // bad flags: a programming error, as atomics.Wake says
	}
}

// futexWake is FUTEX_WAKE (linux/futex.h), which x/sys/unix does not name.
const futexWake = 1
