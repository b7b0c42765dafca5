package ringbuf

import "errors"

var (
	// ErrCorrupt: the ring's header or a record holds values that cannot be
	// right (an index out of range, a length that does not fit, an unknown
	// record type). The ring is not touched further by the call.
	ErrCorrupt = errors.New("ringbuf: corrupt ring")
	// ErrTooLarge: a record longer than the ring's MaxRecord, or a message
	// longer than an MPMC ring's slot. The error names the limit.
	ErrTooLarge = errors.New("ringbuf: record too large")
	// ErrPeerDead: the other side died: a producer waits on a full ring
	// whose consumer (every consumer, for MPMC) is dead, or a consumer waits
	// on an empty ring whose producers are all gone and at least one of them
	// died. On an MPMC ring, also a new producer whose only participant
	// slots to take hold messages of dead consumers that no live consumer
	// is left to deliver (a new consumer takes one over, messages and all).
	ErrPeerDead = errors.New("ringbuf: peer process died")
	// ErrClosed: the handle was closed, or a producer waits on a full ring
	// whose consumers have all closed their end.
	ErrClosed = errors.New("ringbuf: closed")
	// ErrBusy: the side the call needs is held by another live process
	// (the one producer or the one consumer of an SPSC ring, the consumer of
	// an MPSC ring), or every producer slot is taken (by live processes;
	// for AttachProducer and AttachConsumer, which do not wait, also by
	// dead ones whose claims are not yet resolved).
	ErrBusy = errors.New("ringbuf: side held by another process")
	// ErrShortBuffer: Read's buffer is shorter than the next record; the
	// record stays in the ring (use Peek, or a larger buffer).
	ErrShortBuffer = errors.New("ringbuf: buffer shorter than the record")
	// ErrInvalid: an argument out of range (capacity not a power of two,
	// too many producer slots…).
	ErrInvalid = errors.New("ringbuf: invalid argument")
)

// errPoll ends a wait every poll period so that the waiter re-examines its
// peers (never returned to callers).
var errPoll = errors.New("ringbuf: poll")

// errFirstPark ends a waiter's first sleep after atomics.FirstPark (never
// returned to callers): see waitSide.
var errFirstPark = errors.New("ringbuf: first park")

// errSlotPending: no slot is free now, but one whose owner died frees up
// once the consumer has passed that owner's last claim (MPSC: one it may
// have won; see vring.claimResolved), or (MPMC) once a live participant
// has resolved the dead one's claims (see MPMC.takePart). Blocking calls
// wait for it; Try calls report "no room" (or no message).
var errSlotPending = errors.New("ringbuf: a dead participant's slot is not yet reclaimable")

// errSlotOrphaned: (MPMC) no slot is free now, and the only ones whose
// owners died hold dead consumers' messages that no live participant can
// deliver (see MPMC.takePart). Blocking Puts return ErrPeerDead; Try calls
// report "no room".
var errSlotOrphaned = errors.New("ringbuf: dead consumers' slots hold messages no live consumer can deliver")

// errWouldBlock: Write under tryNow found no room (TryWrite reports
// ok=false), or a Try call found the handle's lock held by a call that
// waits for the ring (handleLock.LockCall).
var errWouldBlock = errors.New("ringbuf: would block")
