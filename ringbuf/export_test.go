package ringbuf

// DataWaiters returns how many consumers are registered as waiting on r's
// data futex (any process).
func DataWaiters(r *MPMC) int { return int(r.data.waiters.Load()) }
