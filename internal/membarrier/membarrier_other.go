//go:build !linux

package membarrier

import (
	"errors"
	"time"
)

// ErrUnavailable: there is no membarrier(2) here.
var ErrUnavailable = errors.New("membarrier: unavailable on this system")

// Registered reports false: no process takes the fast side here.
func Registered() bool { return false }

// Refused reports true: Registered never will.
func Refused() bool { return true }

// Await reports false.
func Await() bool { return false }

// HoldRegistration does nothing: there is no registration here.
func HoldRegistration(release <-chan struct{}) {}

// FenceOrWait lets a millisecond pass (see the Linux one).
func FenceOrWait() { time.Sleep(time.Millisecond) }

// Fence returns ErrUnavailable.
func Fence() error { return ErrUnavailable }
