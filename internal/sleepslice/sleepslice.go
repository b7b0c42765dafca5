// Package sleepslice lets a test lengthen atomics' sleep slice: the
// longest one futex wait of a parked Await lasts when neither its poll
// period nor its context's deadline comes sooner (250 ms). The slice
// bounds what a lost wake-up costs a waiter that has nothing else to wake
// it; so a test that must see a lost wake-up sets it to an hour, which
// turns the loss into a hang that the test's deadline reports, instead of
// a delay that only an idle machine tells from scheduling noise.
//
// The setting is process-wide: a test sets it in its own process, and a
// child it starts sets it again in the child. Nothing outside tests sets
// it.
package sleepslice

import (
	"sync/atomic"
	"time"
)

// slice is the override in nanoseconds, 0 for none. Written by tests,
// read by every parked Await as it starts a sleep (atomic: a waiter left
// parked by an earlier test may read it while a test's cleanup writes it).
var slice atomic.Int64

// Get returns the slice a test has set, or def when none is set.
func Get(def time.Duration) time.Duration {
	if d := slice.Load(); d > 0 {
		return time.Duration(d)
	}
	return def
}

// Set makes d the sleep slice of this process's parked Awaits from their
// next sleep on (d <= 0 restores the default) and returns a function that
// restores the previous setting, for t.Cleanup.
func Set(d time.Duration) (restore func()) {
	old := slice.Swap(max(int64(d), 0))
	return func() { slice.Store(old) }
}
