package queue

// GetSleepers returns how many Gets are parked (or about to park) on q.
func GetSleepers[T any](q *Queue[T]) int { return int(q.ctl.notEmpty.Sleepers.Load()) }
