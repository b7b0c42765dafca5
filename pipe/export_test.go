package pipe

import (
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/shm"
)

// Placements returns the objects Create places for pipe name with options
// o, in order, with the body sizes it asks shm room for.
func Placements[T any](name string, o Options[T]) []shm.Placement {
	c := codec.OrDefault(o.Codec)
	capacity := o.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	return placements(c, name, o.OneWay, capacity, sizeFor(o, capacity, false))
}

// ArenaUsed returns the bytes of c's pipe's out-of-line messages (whole
// pages); 0 for a pipe without an arena.
func ArenaUsed[T any](c *Conn[T]) int64 { return c.arenaUsed() }

// SetDialHook makes Dial call f once its connection segment exists, before
// the listener can have accepted it.
func SetDialHook(f func()) { testHookDialed = f }

// SetPlacedHook sets a function that runs after a send has placed its
// message out of line and before it sends the reference (nil: none).
func SetPlacedHook(f func()) { testHookPlaced = f }

// SetAcceptHook makes Accept call f once it has taken a dialer's accept
// word, before it removes the connection segment's name (nil: none).
func SetAcceptHook(f func()) { testHookAccepted = f }

// Leftovers lists the segments in /dev/shm whose names start with prefix.
func Leftovers(t *testing.T, prefix string) []string { return leftovers(t, prefix) }

// Busy reports whether a call holds c's send lock (send) or receive lock.
func Busy[T any](c *Conn[T], send bool) bool {
	mu := &c.recvMu
	if send {
		mu = &c.sendMu
	}
	if mu.TryLock() {
		mu.Unlock()
		return false
	}
	return true
}
