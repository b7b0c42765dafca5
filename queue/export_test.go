package queue

import (
	"sync/atomic"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/shm"
)

// Placements returns the objects Create places for queue name with
// options o, in order, with the body sizes it asks shm room for.
func Placements[T any](name string, o Options[T]) []shm.Placement {
	c := codec.OrDefault(o.Codec)
	return placements(c, name, sizeFor(c, o, false))
}

// GetSleepers returns how many Gets are parked (or about to park) on q.
func GetSleepers[T any](q *Queue[T]) int { return int(q.ctl.notEmpty.Sleepers.Load()) }

// PutSleepers returns how many Puts are parked (or about to park) on q.
func PutSleepers[T any](q *Queue[T]) int { return int(q.ctl.notFull.Sleepers.Load()) }

// Sane checks q's control block against its ring (see control.sane).
func Sane[T any](q *Queue[T]) error { return q.ctl.sane(q.ring.Len(), q.ring.Cap()) }

// ArenaUsed returns the bytes of q's out-of-line messages (whole pages),
// those being put or got included; 0 for a queue without an arena.
func ArenaUsed[T any](q *Queue[T]) int64 { return q.arenaUsed() }

// Reclaim runs what a survivor's wait runs to give back the arena blocks
// of producers that died holding them; it reports whether it freed any.
func Reclaim[T any](q *Queue[T]) bool { return q.reclaim() }

// SetPlacedHook sets a function that runs after a Put has placed its
// message out of line and before it sends it (a kill point for tests).
func SetPlacedHook(f func()) { testHookPlaced = f }

// SetPublishedHook sets a function that runs after a Put has handed its
// out-of-line message's block to the message (arena.Publish) and before
// the ring publishes the slot (a kill point for tests).
func SetPublishedHook(f func()) { testHookPublished = f }

// Streaming reports whether q's next Get that waits waits for a run (its
// last Get found a message at once; see ringx.DataGate).
func Streaming[T any](q *Queue[T]) bool { return q.streaming.Load() }

// SetFastHook sets a function that runs inside an uncounted Put once its
// slot is claimed and inside an uncounted Get once its message is claimed
// (a kill point for tests).
func SetFastHook(f func()) { testHookFast = f }

// PollPut and PollGet run once the periodic check of a Put blocked on a
// full q and of a Get blocked on an empty one (the rescues among them).
func PollPut[T any](q *Queue[T]) error { return q.consumersDead() }
func PollGet[T any](q *Queue[T]) error { return q.producersDead() }

// Asleep sets the sleep bits of q's notEmpty and notFull events, as a Get
// and a Put about to sleep do; the funcs it returns report whether each
// is still set (no Notify since).
func Asleep[T any](q *Queue[T]) (getAsleep, putAsleep func() bool) {
	bit := func(seq *atomic.Uint32) func() bool {
		s := seq.Load() | 1
		seq.Store(s)
		return func() bool { return seq.Load() == s }
	}
	return bit(q.ctl.notEmpty.Seq), bit(q.ctl.notFull.Seq)
}

// RingName returns the name of q's ring in q's segment.
func RingName[T any](q *Queue[T]) string { return ringName(q.name) }
