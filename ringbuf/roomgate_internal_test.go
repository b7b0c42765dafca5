package ringbuf

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/spin"
)

// fillMPMC puts n one-byte messages into r without waiting.
func fillMPMC(t *testing.T, r *MPMC, n int) {
	t.Helper()
	for i := range n {
		if ok, err := r.TryPut([]byte{byte(i)}); !ok || err != nil {
			t.Fatalf("TryPut %d: %v, %v", i, ok, err)
		}
	}
}

// takeMPMC gets n messages from r without waiting.
func takeMPMC(t *testing.T, r *MPMC, n int) {
	t.Helper()
	buf := make([]byte, 8)
	for i := range n {
		if _, ok, err := r.TryGet(buf); !ok || err != nil {
			t.Fatalf("TryGet %d: %v, %v", i, ok, err)
		}
	}
}

// opensAfter checks a gate (its Open) that wants more than there is
// (state): shut at its first look, open within a minute, and not before
// its window has passed.
func opensAfter(t *testing.T, open func() bool, window time.Duration, state string) {
	t.Helper()
	t0 := spin.Now()
	if open() {
		t.Fatalf("gate open at once with %s", state)
	}
	for !open() {
		if time.Duration(spin.Now()-t0) > time.Minute {
			t.Fatalf("gate shut a minute with %s", state)
		}
	}
	if d := time.Duration(spin.Now() - t0); d < window {
		t.Fatalf("gate opened after %v, before its window (%v)", d, window)
	}
}

// staysShut checks that a gate (its Open) stays shut for twice its window
// on a ring in state.
func staysShut(t *testing.T, open func() bool, window time.Duration, state string) {
	t.Helper()
	for t0 := spin.Now(); time.Duration(spin.Now()-t0) < 2*window; {
		if open() {
			t.Fatalf("gate open on %s", state)
		}
	}
}

// TestHasRoom: hasRoom(n) holds exactly when n more messages fit, by the
// slots the consumers gave back and by WithLimit's bound, across laps.
func TestHasRoom(t *testing.T) {
	check := func(t *testing.T, r *MPMC, want int) {
		t.Helper()
		for n := 1; n <= int(r.capacity); n++ {
			if got := r.hasRoom(uint64(n)); got != (n <= want) {
				t.Fatalf("hasRoom(%d) = %v with room for %d", n, got, want)
			}
		}
	}
	t.Run("capacity", func(t *testing.T) {
		r, _ := mpmcPair(t, 16, nil)
		check(t, r, 16)
		for range 3 { // the slots' sequence numbers move on a lap each time
			fillMPMC(t, r, 16)
			check(t, r, 0)
			takeMPMC(t, r, 3)
			check(t, r, 3)
			takeMPMC(t, r, 13)
			check(t, r, 16)
		}
	})
	t.Run("limit", func(t *testing.T) {
		r, _ := mpmcPair(t, 16, []Option{WithLimit(10)})
		check(t, r, 10)
		fillMPMC(t, r, 10)
		check(t, r, 0) // slots free, the bound reached
		takeMPMC(t, r, 2)
		check(t, r, 2)
	})
}

// TestHasRoomRunReadsNoDequeue: on a ring with WithLimit's bound,
// hasRoom for a run (n > 1) reads the bound from the slot the consumers
// must have given back, never from dequeue: the word every consumer's
// claim writes, which a producer waiting for room took from them at each
// look. Here dequeue is stored far off and the answers do not move. A
// slot claimed and not yet given back holds a run back by one slot, while
// hasRoom(1), the exact test RoomGate falls back on after its window,
// counts it as taken.
func TestHasRoomRunReadsNoDequeue(t *testing.T) {
	r, q := mpmcPair(t, 16, []Option{WithLimit(10)})
	fillMPMC(t, r, 10)
	takeMPMC(t, q, 4) // given back: room for 4
	check := func(room int, what string) {
		t.Helper()
		deq := r.deq.Load()
		defer r.deq.Store(deq)
		for _, d := range []uint64{deq, 0, deq - 3, deq + 3, ^uint64(0)} {
			r.deq.Store(d)
			for n := 2; n <= int(r.capacity); n++ {
				if got := r.hasRoom(uint64(n)); got != (n <= room) {
					t.Fatalf("%s, dequeue stored as %d (is %d): hasRoom(%d) = %v with room for %d", what, d, deq, n, got, room)
				}
			}
		}
	}
	check(4, "4 given back")
	pos, ok, err := q.tryClaimGet(noWait)
	if !ok || err != nil {
		t.Fatalf("tryClaimGet: %v, %v", ok, err)
	}
	check(4, "a fifth claimed, not given back")
	if !r.hasRoom(1) {
		t.Fatal("hasRoom(1) = false with a fifth slot claimed: the bound counts it as taken")
	}
	q.releaseGet(pos)
	check(5, "the fifth given back")
}

// TestRoomGatePassesAHeldSlotAtTheBound: a consumer that claimed a slot
// and never gives it back (dead, or slow) holds a run's room under
// WithLimit's bound when that slot is the one hasRoom reads, though the
// bound counts it as consumed: the gate stays shut, but only for its
// window, then opens on hasSpace (the exact test), and the claim takes
// the room the bound allows.
func TestRoomGatePassesAHeldSlotAtTheBound(t *testing.T) {
	r, q := mpmcPair(t, 16, []Option{WithLimit(10)})
	fillMPMC(t, r, 10)
	takeMPMC(t, q, 3)                      // positions 0-2 given back
	held, ok, err := q.tryClaimGet(noWait) // position 3, claimed and never given back
	if !ok || err != nil || held != 3 {
		t.Fatalf("tryClaimGet: %d, %v, %v", held, ok, err)
	}
	takeMPMC(t, q, 6) // positions 4-9: dequeue at 10, room for 10 by the bound
	// A run of 4 from enqueue 10 reads position 10+4-1-10 = 3, the held one.
	g := ringx.NewRoomGate((*mpmcX)(r), 4, int(r.capacity))
	opensAfter(t, g.Open, ringx.RoomWindow, "position 3 held by a consumer")
	n, err := r.TryPutBatchFunc(8, func(int, []byte) int { return 1 })
	if n != 8 || err != nil {
		t.Fatalf("TryPutBatchFunc(8) with room for 10 by the bound: %d, %v", n, err)
	}
	q.releaseGet(held)
}

// TestRoomGateWaitsThenTakesWhatThereIs: a producer's gate on a ring with
// less room than it wants stays shut for RoomWindow and then opens on the
// space there is (a consumer that has stopped must never hold a Put back
// for good); on a full ring it never opens; room enough opens it at once.
func TestRoomGateWaitsThenTakesWhatThereIs(t *testing.T) {
	r, _ := mpmcPair(t, 64, nil)
	fillMPMC(t, r, 62)
	g := ringx.NewRoomGate((*mpmcX)(r), 32, 64) // room wanted: 16
	opensAfter(t, g.Open, ringx.RoomWindow, "2 of 16 slots free")

	fillMPMC(t, r, 2)
	full := ringx.NewRoomGate((*mpmcX)(r), 32, 64)
	staysShut(t, full.Open, ringx.RoomWindow, "a full ring")

	takeMPMC(t, r, 16)
	if g := ringx.NewRoomGate((*mpmcX)(r), 32, 64); !g.Open() {
		t.Fatal("gate shut with the room it wants")
	}
	if g := ringx.NewRoomGate((*mpmcX)(r), 1, 64); !g.Open() {
		t.Fatal("one-slot gate shut with 16 slots free")
	}
}

// TestPutBatchTakesShortRoomWhenConsumerStops: a PutBatchFunc on a ring
// whose consumer took two messages and stopped puts two (after its wait
// for a run's room) rather than waiting for the consumer; a PutFunc on
// the full ring after that waits for a consumer, and one message taken
// lets it in.
func TestPutBatchTakesShortRoomWhenConsumerStops(t *testing.T) {
	r, q := mpmcPair(t, 64, nil)
	fillMPMC(t, r, 64)
	takeMPMC(t, q, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := r.PutBatchFunc(ctx, 32, func(i int, slot []byte) int { slot[0] = byte(i); return 1 })
	if err != nil || n != 2 {
		t.Fatalf("PutBatchFunc put %d (%v), want the 2 free slots", n, err)
	}
	done := make(chan error, 1)
	go func() { done <- r.PutFunc(ctx, func(slot []byte) int { return 1 }) }()
	takeMPMC(t, q, 1)
	if err := <-done; err != nil {
		t.Fatalf("PutFunc with one slot given back: %v", err)
	}
	if l := r.Len(); l != 64 {
		t.Fatalf("Len %d, want 64", l)
	}
}
