package ringbuf

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/ringx"
)

// TestRoomGateMissedWake: a blocked Put whose wake was lost (the
// consumer's release still in its store buffer when the Put registered
// and looked: see waitSide) and whose consumer then stopped with fewer
// slots free than the Put's room is found by the look after its first
// park, as any waiter is (TestWaitSideMissedWake): by then it has waited
// longer than RoomWindow, so its gate must open on the space there is,
// not start the window then and sleep a poll period. The wake is lost
// for good here: the waiter sleeps on words of its own, which the
// consumer's release does not touch.
func TestRoomGateMissedWake(t *testing.T) {
	conclusive := 0
	for round := 0; round < 20 && conclusive < 3; round++ {
		r, q := mpmcPair(t, 64, nil)
		fillMPMC(t, r, 64)
		g := ringx.NewRoomGate((*mpmcX)(r), 32, 64) // room wanted: 16
		var seq, waiters, parked atomic.Uint32
		o := defaultOptions()
		o.poll = 200 * time.Millisecond
		var w waitSide
		w.init(&seq, &waiters, &parked, &o)
		var registered atomic.Int32 // looks made with the waiter counted
		secondSpace, secondOpen := false, false
		ready := func() bool {
			space := r.hasSpace() // before the gate's look: space only grows here
			open := g.Open()
			if waiters.Load() != 0 && registered.Add(1) == 2 {
				secondSpace, secondOpen = space, open
			}
			return open
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		done := make(chan error, 1)
		go func() { done <- w.wait(ctx, ready, nil) }()
		for registered.Load() == 0 {
			runtime.Gosched() // until the look after registering: next, it sleeps
		}
		takeMPMC(t, q, 2) // and its wake goes to the ring's waiters, not this one
		err := <-done
		cancel()
		if !secondSpace {
			continue // the take came after the second look: nothing shown
		}
		conclusive++
		if !secondOpen || err != nil {
			t.Fatalf("round %d: the look after the first park found 2 slots free and the gate shut (wait = %v): the Put sleeps its poll period", round, err)
		}
	}
	if conclusive == 0 {
		t.Skip("the take never came before the look after the first park")
	}
}

// TestPutBatchDoneContextTakesFreeSlots: PutBatchFunc with a context that
// is done already puts the messages that fit, as PutFunc would (it
// claims before it looks at its context), although fewer slots are free
// than the run it waits for room for.
func TestPutBatchDoneContextTakesFreeSlots(t *testing.T) {
	r, _ := mpmcPair(t, 64, nil)
	fillMPMC(t, r, 62)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := r.PutBatchFunc(ctx, 32, func(i int, slot []byte) int { return 1 })
	if n != 2 || err != nil {
		t.Fatalf("PutBatchFunc with 2 slots free and a done context = %d, %v; want 2, nil", n, err)
	}
}

// emptyAt makes r an empty ring whose enqueue and dequeue are at base
// (corrupt or near the 2^64 wrap, as a hostile peer may put them): every
// slot free for its position of the lap from base.
func emptyAt(r *MPMC, base uint64) {
	for p := base; p != base+r.capacity; p++ {
		r.seq(p).Store(p) // slot of p: free for p
	}
	r.enq.Store(base)
	r.deq.Store(base)
}

// TestHasRoomAcrossOverflow: hasRoom's sums of positions wrap with them:
// with enqueue and dequeue a few slots short of 2^64, room is counted
// right while the positions cross it, with and without WithLimit's bound;
// and on any slot sequence numbers (corrupt) it answers without indexing
// out of the ring.
func TestHasRoomAcrossOverflow(t *testing.T) {
	for _, limit := range []int{0, 13} {
		r, q := mpmcPair(t, 16, []Option{WithLimit(limit)})
		bound := int(r.limit)
		base := ^uint64(0) - 20 // 21 positions before the wrap
		emptyAt(r, base)
		check := func(want int) {
			t.Helper()
			for n := 1; n <= int(r.capacity); n++ {
				if got := r.hasRoom(uint64(n)); got != (n <= want) {
					t.Fatalf("limit %d, enqueue %#x: hasRoom(%d) = %v with room for %d", limit, r.enq.Load(), n, got, want)
				}
			}
		}
		for range 4 { // 4 laps of 13: across the wrap
			check(bound)
			fillMPMC(t, r, bound)
			check(0)
			takeMPMC(t, q, 5)
			check(5)
			takeMPMC(t, q, bound-5)
		}
		if e := r.enq.Load(); e > base {
			t.Fatalf("enqueue %#x: never wrapped", e)
		}
		for i := range r.capacity { // any values: no panic, no index out of the ring
			r.seq(i).Store(i * 0x9e3779b97f4a7c15)
		}
		for _, e := range []uint64{0, 1, ^uint64(0), base, 1 << 63} {
			r.enq.Store(e)
			r.deq.Store(e + 7)
			for n := range r.capacity + 1 {
				r.hasRoom(n)
				(*mpmcX)(r).HasRoom(int(n) - 1)
			}
		}
	}
}
