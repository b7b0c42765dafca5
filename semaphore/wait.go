package semaphore

import (
	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
)

// waitRounds is the base of the spin that Mutex, Event and Semaphore waits
// make before they park: package spin's relaxed rounds, as many as
// atomics.DefaultSpin plain looks last (about the spin that queues and
// pipes make). Each handle learns from there (spin.Adaptive).
const waitRounds = atomics.DefaultSpin / spin.RelaxChecks

// parkNow are the options of an Await that follows the handle's own spin:
// no second spin inside Await.
var parkNow = atomics.WaitOptions{Spin: 1}
