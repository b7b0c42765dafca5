package ringbuf

// DataWaiters returns how many consumers are registered as waiting on r's
// data futex (any process).
func DataWaiters(r *MPMC) int { return int(r.data.waiters.Load()) }

// SpaceWaiters returns how many producers are registered as waiting on r's
// space futex (any process).
func SpaceWaiters(r *MPMC) int { return int(r.space.waiters.Load()) }
