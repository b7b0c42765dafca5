package queue_test

import (
	"testing"

	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
)

// holdRingSlotsButOne takes every participant slot of q's ring but one
// with handles of this process (closed with the test), so that the next
// process handed q takes the last, and a handle that comes after it has
// only that process's slot to take.
func holdRingSlotsButOne(t *testing.T, q *queue.Queue[int64]) {
	t.Helper()
	var last *ringbuf.MPMC
	for {
		h, err := ringbuf.OpenMPMC(q.Segment(), queue.RingName(q))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		if err := h.AttachProducer(); err != nil { // every slot held
			break
		}
		last = h
	}
	if last == nil {
		t.Fatal("no ring slot was free")
	}
	last.Close()
}

// openAgain opens another handle on q, closed with the test.
func openAgain(t *testing.T, q *queue.Queue[int64]) *queue.Queue[int64] {
	t.Helper()
	q2, err := queue.Open(q.Segment(), q.Name(), queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() })
	return q2
}

// TestPutOnRingSlotOfDeadProducer: every slot of the queue's ring is held,
// the last by a producer killed with a slot claimed and not written. A
// new handle's Put takes that slot (the dead claim given up) rather than
// failing, and the consumer gets every message but the dead one's.
func TestPutOnRingSlotOfDeadProducer(t *testing.T) {
	q, ctx := fastQueue(t)
	if err := q.Put(ctx, 1); err != nil { // q's ring slot
		t.Fatal(err)
	}
	holdRingSlotsButOne(t, q)
	killHeld(t, ctx, fastPutHeld, q) // 100 queued, then the dead claim in the last slot
	q2 := openAgain(t, q)
	if err := q2.Put(ctx, 2); err != nil {
		t.Fatalf("Put of a new handle with every ring slot held, the dead producer's the one to take: %v", err)
	}
	for _, want := range []int64{1, 100, 2} {
		if v, err := q.Get(ctx); err != nil || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, err, want)
		}
	}
	if v, ok, err := q.TryGet(); ok || err != nil {
		t.Fatalf("a message more: %d, %v", v, err)
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestGetOnRingSlotOfDeadConsumer: every slot of the queue's ring is held,
// the last by a consumer killed holding a message, and no other consumer
// is attached. A new handle's Get takes that slot over with the message
// and delivers it, then the rest.
func TestGetOnRingSlotOfDeadConsumer(t *testing.T) {
	q, ctx := fastQueue(t)
	for i := range int64(3) {
		if err := q.Put(ctx, i); err != nil { // q's ring slot, as a producer
			t.Fatal(err)
		}
	}
	holdRingSlotsButOne(t, q)
	killHeld(t, ctx, fastGetHeld, q) // got 0, died holding 1, in the last slot
	q2 := openAgain(t, q)
	for _, want := range []int64{1, 2} {
		if v, err := q2.Get(ctx); err != nil || v != want {
			t.Fatalf("Get of a new handle with every ring slot held, the dead consumer's the one to take = %d, %v; want %d", v, err, want)
		}
	}
	if v, ok, err := q2.TryGet(); ok || err != nil {
		t.Fatalf("a message more: %d, %v", v, err)
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}
