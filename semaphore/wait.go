package semaphore

import (
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
