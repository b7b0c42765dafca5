// Package ringx hands packages queue and pipe (and shmkit's own tests) the
// calls of package ringbuf that are machinery, not API: the non-blocking
// peer checks a ring's waits run every poll period, a try that stays cheap
// on an empty ring, the outstanding-message count a joinable queue derives
// its task count from, and the invariant checker. Package ringbuf fills the
// variables at init; a caller converts a ring handle once and keeps the
// result.
//
// queue and pipe wait on futex words of their own (so that their Shutdown,
// Close, bounds and peer checks can wake their waiters), so they use a
// ring's try calls and run its rescue themselves.
package ringx

import "sync/atomic"

// Consumer is the consumer side of an SPSC or MPSC ring.
type Consumer interface {
	// TryPeekQuick is TryPeek without its slow path: on an empty ring it
	// returns at once, without looking for dead producers (which reads
	// /proc). A consumer that polls an empty ring with it calls Rescue now
	// and then.
	TryPeekQuick() (rec []byte, ok bool, err error)
	// Rescue runs the consumer's slow path without taking a record:
	// records left in progress by a dead producer are skipped. It returns
	// ErrPeerDead (a producer died) or io.EOF (every producer closed) when
	// the ring is empty and no producer is left.
	Rescue() error
	// Ready reports whether a record may be at the head: a load of the
	// tail (and, MPSC, of the head's header), the probe a waiter spins on
	// before it runs TryPeekQuick.
	Ready() bool
}

// Producer is the producer side of an SPSC or MPSC ring.
type Producer interface {
	// Room reports whether the room the last failed TryReserve wanted is
	// free now: the probe a waiter spins on before it tries again.
	Room() bool
}

// MPMC is what a queue needs of an MPMC ring beyond its public API.
type MPMC interface {
	// RescueEmpty is what a Get blocked on an empty ring runs every poll
	// period: a slot claimed by a producer that died before filling it is
	// marked abandoned, so that consumers move past it, and a message
	// claimed by a consumer that died before taking it is made ready for
	// adoption by this handle's next Get. retry reports that either
	// happened. It returns io.EOF or ErrPeerDead when no producer is alive.
	RescueEmpty() (retry bool, err error)
	// RescueFull is what a Put blocked on a full ring runs every poll
	// period: slots at the head that dead producers claimed and never
	// filled are skipped; retry reports that a slot was freed. It returns
	// ErrPeerDead or ErrClosed when no consumer is alive.
	RescueFull() (retry bool, err error)
	// Outstanding returns the number of messages put and not yet wholly
	// taken: those queued (filled, or being filled by a live producer) and
	// those a consumer has claimed and not yet finished with (a dead
	// consumer's included). It reads the queued ones before the claimed
	// ones, so a message moving from one to the other during the call is
	// never missed (it may be counted twice).
	Outstanding() int
	// HasData and HasSpace report whether a Get or a Put may succeed
	// now: a load of the position and one of its slot's sequence, the
	// probes a waiter spins on before it tries.
	HasData() bool
	HasSpace() bool
	// HasRoom reports whether n slots from the producers' position look
	// free now (n is clamped to 1..capacity): one load of a slot n-1
	// past it, which a producer waiting for room for a run spins on
	// instead of the slot the consumers are emptying now.
	HasRoom(n int) bool
	// HasDataAt reports whether n messages from the consumers' position
	// look queued now (n is clamped to 1..capacity): one load of a slot
	// n-1 past it, which a consumer that has caught up with a stream
	// spins on instead of the slot the producers are filling now.
	HasDataAt(n int) bool
	// ClaimPut takes the handle's producer lock and claims the next free
	// slot under it, for a caller that fills the slot itself and then
	// hands it to PublishPut, which publishes it, runs wake (the caller's
	// own wake-up, which may still touch the mapping) and releases the
	// lock: one call each way on the path of every message. ok is false,
	// holding nothing, when the ring is full (or another goroutine's call
	// on the handle waits for room holding the lock), on err, on a handle that is
	// not a producer yet or has begun to close, and when stop, a word of
	// the caller's in the same mapping (a queue's shutdown), is not 0
	// (the caller's general path attaches it, or says why). Close takes
	// the lock, so the ring stays mapped while it is held, and the
	// caller reads nothing of the mapping before the call: stop is looked
	// at under the lock, as a look before it could read a page that a
	// Close racing with it had unmapped.
	ClaimPut(stop *atomic.Uint32) (pos uint64, slot []byte, ok bool, err error)
	PublishPut(pos uint64, n int, wake func())
	// ClaimGet and ReleaseGet are the consumers' side of the same:
	// ClaimGet claims the next message as a Get does (ok false when there
	// is none now), ReleaseGet gives its slot back. ClaimGet may first
	// wait up to BehindWindow (see Behind): it is for a Get, never a Try
	// call.
	ClaimGet() (pos uint64, msg []byte, ok bool, err error)
	ReleaseGet(pos uint64, wake func())
	// Bytes returns the payload bytes of the messages queued: a
	// snapshot, O(Len).
	Bytes() int64
	// OnGivenUp sets f, which runs with the payload of each slot that
	// this handle's consumer side skips for want of a length, before the
	// slot goes back to the producers: the whole payload. Such a slot was
	// given up by its producer (which died holding its claim, or gave it
	// up), or is one an adopter of a dead consumer's claim finds used
	// already (a run's used slots, a consumer killed inside its
	// release). It holds what its producer wrote before it stopped, a
	// delivered message, or a lap before's leftovers. f must not wait for
	// the ring nor call into it. Set it before the handle's first Get.
	OnGivenUp(f func(payload []byte))
}

var (
	// ConsumerOf returns the consumer side of an *SPSC or *MPSC.
	ConsumerOf func(ring any) Consumer
	// ProducerOf returns the producer side of an *SPSC or *MPSC.
	ProducerOf func(ring any) Producer
	// MPMCOf returns the machinery of an *MPMC.
	MPMCOf func(ring any) MPMC
	// Sane checks the invariants of an *SPSC, *MPSC or *MPMC and returns
	// a descriptive error wrapping ErrCorrupt for the first that fails.
	// Run on a quiet ring (no call in flight) it must hold; on a busy one
	// it may report records still being written.
	Sane func(ring any) error
	// MPMCBodySize is the body of an MPMC ring of capacity slots of
	// slotBytes with parts participant slots (WithProducers), and
	// SPSCBodySize that of an SPSC of capacity bytes: what a caller
	// placing a ring with others asks shm.Segment.CanAlloc room for.
	MPMCBodySize func(capacity, slotBytes, parts int) int
	SPSCBodySize func(capacity int) int
	// CheckMPMC returns the error (ErrInvalid) NewMPMC would give for
	// that geometry, held to limit messages (0: none), before anything
	// is placed; nil for one it makes.
	CheckMPMC func(capacity, slotBytes, parts, limit int) error
	// CheckSPSC is CheckMPMC for an SPSC ring of capacity bytes.
	CheckSPSC func(capacity int) error
)
