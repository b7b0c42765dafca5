//go:build !race

package semaphore

import "sync/atomic"

// See race.go.

func raceAcquire(*atomic.Uint32) {}
func raceRelease(*atomic.Uint32) {}
