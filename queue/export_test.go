package queue

// GetSleepers returns how many Gets are parked (or about to park) on q.
func GetSleepers[T any](q *Queue[T]) int { return int(q.ctl.notEmpty.Sleepers.Load()) }

// Sane checks q's control block against its ring (see control.sane).
func Sane[T any](q *Queue[T]) error { return q.ctl.sane(q.ring.Len(), q.ring.Cap()) }
