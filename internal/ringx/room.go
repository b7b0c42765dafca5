package ringx

import (
	"math"
	"time"

	"github.com/shmkit/shmkit/internal/spin"
)

// A producer that finds an MPMC ring full does not take the first slot a
// consumer gives back: it waits until there is room for its run (a batch:
// its messages, up to a quarter of the ring; one message: PutRoom, a
// quarter of the ring, as its next Puts will want room too), for at most
// RoomWindow, and takes whatever room there is after that. Three reasons,
// all measured:
//
//   - A producer that spins on the slot the consumers are emptying now
//     takes that slot's line from under them at every look, and each of
//     their stores to it then waits for the line to come back; a ring
//     that stays full keeps both sides at that pace. A full queue of
//     64-byte messages put and got 64 at a time (queue's
//     BenchmarkProducers/queue-batch, one producer, the VM's fast state)
//     ran at 38-40 M msgs/s with its producer spinning there, and at
//     47-61 M with the producer looking at the last slot of its room
//     instead, a line the consumers gave back a while ago (medians of
//     5 interleaved runs: 43 and 66 M). docs/queue.md has the figures.
//   - A batch producer that takes one or two slots at a time pays a claim
//     and a wake for each, and hands the consumers runs as short.
//   - A Put that finds the ring full goes down its general path (counted,
//     a wait, a wake): one that waited for 8 slots came back to it every
//     8 messages. A stream of 64-byte messages through a queue held to
//     1024 of them (the default MaxSize), one producer, ran at 11-12 M
//     msgs/s with PutRoom 8 and 22-24 M with a quarter of the ring (3
//     interleaved runs), as fast as a queue of 4096 that never filled.
//     The consumers still have three quarters of the ring queued when the
//     producer goes on, so they never wait for it.
//
// This is the hysteresis of a bounded buffer's producer; LMAX Disruptor's
// multi-producer next(n) waits for all n slots the same way. The window
// bounds it: a consumer that stops with a few slots free holds a waiting
// producer back by at most RoomWindow while it spins (or its first park,
// spin.FirstPark), never for good.
const (
	PutRoom    = math.MaxInt // a Put's run: as much as NewRoomGate allows
	RoomWindow = 20 * time.Microsecond
)

// Room is what a RoomGate looks at: an MPMC ring's producer side.
type Room interface {
	// HasRoom: see MPMC.
	HasRoom(n int) bool
	// HasSpace: see MPMC.
	HasSpace() bool
}

// RoomGate is one blocked producer's wait for room (see above); a room of
// 1 waits for space alone. Make it with NewRoomGate (the zero value has no
// ring to look at).
type RoomGate struct {
	r    Room
	room int
	w    window // from its first look short of room
}

// window is a gate's bound on its wait: it starts at the gate's first
// look short of what it wants, and a gate opens on what there is once it
// has passed.
type window struct {
	since int64 // spin.Now() at the first look; 0: not yet
}

// over reports whether d has passed since the first call, which starts
// the window and reports false.
func (w *window) over(d time.Duration) bool {
	if w.since == 0 {
		w.since = max(spin.Now(), 1)
		return false
	}
	return spin.Now()-w.since >= int64(d)
}

// NewRoomGate returns the gate of a producer of r that has k messages at
// hand and a ring of capacity slots: it waits for room for all k, up to a
// quarter of the ring.
func NewRoomGate(r Room, k, capacity int) RoomGate {
	return RoomGate{r: r, room: max(1, min(k, capacity/4))}
}

// Open reports whether the producer may try now: room for its run, or
// space for one message once RoomWindow has passed since its first look.
func (g *RoomGate) Open() bool {
	if g.r.HasRoom(g.room) {
		// The slots past the head look free, but a claim starts at the
		// head, which a consumer may still hold (one slower than those
		// after it, or dead: then only the rescue on the wait's poll
		// frees it, and a gate open here would keep the wait from ever
		// polling).
		return g.room <= 1 || g.r.HasSpace()
	}
	if g.room <= 1 {
		return false
	}
	// The window runs from the first look, full ring or not: the first
	// look to see space may be the one after a waiter's first park that
	// makes up for a lost wake (see ringbuf's waitSide), and a window that
	// started there would send it to sleep for its poll period with space
	// free. The clock first: until the window has passed, a look short of
	// room reads the one slot n-1 on, not the head the consumers are
	// emptying.
	return g.w.over(RoomWindow) && g.r.HasSpace()
}
