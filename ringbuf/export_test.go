package ringbuf

import (
	"context"
	"sync/atomic"
	"time"
)

// WaitLooks runs a handle's wait (default options) for a condition that
// never holds, under ctx, and returns its error and how often it looked.
func WaitLooks(ctx context.Context) (int, error) {
	o := defaultOptions()
	var w waitSide
	var seq, waiters, parked atomic.Uint32
	w.init(&seq, &waiters, &parked, &o)
	looks := 0
	err := w.wait(ctx, func() bool { looks++; return false })
	return looks, err
}

// DataWaiters returns how many consumers are registered as waiting on r's
// data futex (any process).
func DataWaiters(r *MPMC) int { return int(r.data.waiters.Load()) }

// SpaceWaiters returns how many producers are registered as waiting on r's
// space futex (any process).
func SpaceWaiters(r *MPMC) int { return int(r.space.waiters.Load()) }

// AdaptiveLooks gives a Park handle's wait (default options) the history of
// parks given, then returns how often its next wait looks at a condition
// that does not hold before it registers to park (the condition then
// holds, so that it does not sleep), and the base spin of a handle without
// history.
func AdaptiveLooks(parks ...time.Duration) (looks, base int) {
	o := defaultOptions()
	var w waitSide
	var seq, waiters, parked atomic.Uint32
	w.init(&seq, &waiters, &parked, &o)
	base = (o.spin + relaxChecks - 1) / relaxChecks
	for _, d := range parks {
		w.learn(base, d)
	}
	w.wait(context.Background(), func() bool {
		if waiters.Load() != 0 {
			return true // the re-check after registering
		}
		looks++
		return false
	})
	return looks, base
}

// ProducerWaiting reports whether a producer (any process) is registered as
// waiting for room in r.
func ProducerWaiting(r *MPSC) bool { return r.p.wait.waiters.Load() != 0 }
