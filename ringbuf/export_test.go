package ringbuf

import (
	"context"
	"sync/atomic"
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
