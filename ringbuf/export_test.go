package ringbuf

import (
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/spin"

	"context"
	"sync/atomic"
	"time"
)

// WaitLooks runs a handle's wait (default options) for a condition that
// never holds, under ctx, and returns its error and how often it looked.
func WaitLooks(ctx context.Context) (int, error) {
	w, _, _ := testWaitSide()
	looks := 0
	err := w.wait(ctx, func() bool { looks++; return false }, nil)
	return looks, err
}

// testWaitSide returns a wait side with default options on words of its
// own, its waiter count, and its options.
func testWaitSide() (*waitSide, *atomic.Uint32, *options) {
	o := defaultOptions()
	var w waitSide
	var seq, waiters, parked atomic.Uint32
	w.init(&seq, &waiters, &parked, &o)
	return &w, &waiters, &o
}

// DataWaiters returns how many consumers are registered as waiting on r's
// data futex (any process).
func DataWaiters(r *MPMC) int { return int(r.data.waiters.Load()) }

// SpaceWaiters returns how many producers are registered as waiting on r's
// space futex (any process).
func SpaceWaiters(r *MPMC) int { return int(r.space.waiters.Load()) }

// Parked describes a wait that parked (see spin.Stats): Spun over Rounds
// rounds of spin before it (0: untimed), then Parked in the kernel, ended by
// a wake (Woken) or not.
type Parked struct {
	Spun   time.Duration
	Rounds int
	Parked time.Duration
	Woken  bool
}

// AdaptiveLooks gives a Park handle's wait (default options) the history of
// parked waits given, then returns how often its next wait looks at a
// condition that does not hold before it registers to park (the condition
// then holds, so that it does not sleep), and the base spin of a handle
// without history.
func AdaptiveLooks(waits ...Parked) (looks, base int) { return adaptiveLooks(false, waits) }

// AdaptiveLooksReset is AdaptiveLooks with SetOptions called (with no
// options) between the history and the wait.
func AdaptiveLooksReset(waits ...Parked) (looks, base int) { return adaptiveLooks(true, waits) }

func adaptiveLooks(reset bool, waits []Parked) (looks, base int) {
	w, waiters, o := testWaitSide()
	base = (o.spin + spin.RelaxChecks - 1) / spin.RelaxChecks
	for _, p := range waits {
		w.adapt.Learn(base, spin.Stats{Spun: p.Spun, Rounds: p.Rounds, Parked: p.Parked, Woken: p.Woken})
	}
	if reset {
		o.apply(nil, w)
	}
	w.wait(context.Background(), func() bool {
		if waiters.Load() != 0 {
			return true // the re-check after registering
		}
		looks++
		return false
	}, nil)
	return looks, base
}

// ProducerWaiting reports whether a producer (any process) is registered as
// waiting for room in r.
func ProducerWaiting(r *MPSC) bool { return r.p.wait.waiters.Load() != 0 }

// Sane checks the invariants of an *SPSC, *MPSC or *MPMC (see ringx.Sane).
func Sane(r any) error { return sane(r) }

// Outstanding, Bytes, RescueEmpty and RescueFull are the MPMC machinery
// package queue reaches through internal/ringx.
func Outstanding(r *MPMC) int                     { return r.outstanding() }
func Bytes(r *MPMC) int64                         { return r.bytes() }
func RescueEmpty(r *MPMC) (retry bool, err error) { return (*mpmcX)(r).RescueEmpty() }
func RescueFull(r *MPMC) (retry bool, err error)  { return (*mpmcX)(r).RescueFull() }

// TryPeekQuick and Rescue are the consumer machinery package pipe reaches
// through internal/ringx.
func TryPeekQuick(r any) ([]byte, bool, error) { return ringx.ConsumerOf(r).TryPeekQuick() }
func Rescue(r any) error                       { return ringx.ConsumerOf(r).Rescue() }

// SetRunPublishHook makes every MPSC WriteBatch of this process call f
// just before the store that publishes its run (a victim is killed there).
func SetRunPublishHook(f func()) { runPublishHook = f }

// SetMPMCRunHook makes every MPMC run put of this process call f(i, n)
// before it fills slot i of its n, and f(n, n) after the last publication,
// before the wake (a victim is killed there).
func SetMPMCRunHook(f func(i, n int)) { mpmcRunHook = f }

// SetMPMCGetRunHook makes every MPMC run get of this process call f(i, n)
// before it empties slot i of its n (a victim is killed there).
func SetMPMCGetRunHook(f func(i, n int)) { mpmcGetRunHook = f }

// SetAcquireWaitHook makes AcquireConsumer call f before each of its
// waits (after false) and after it (after true, polled when the wait
// ended at the poll period or a sleep slice rather than by a change).
func SetAcquireWaitHook(f func(after, polled bool)) {
	if f == nil {
		acquireWaitHook = nil
		return
	}
	acquireWaitHook = func(after bool, err error) { f(after, err == errPoll) }
}
