package queue_test

import (
	"testing"

	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/queue"
)

// TestRescueWakesTheOtherWaiters: a producer SIGKILLed mid-Put leaves its
// slot claimed at the head, and the messages put after it, up to a full
// queue, wait behind it.
// The first blocked call to poll (a Put's check, or a Get's) rescues the
// slot: it rechecks, but the other waiters sleep on their own events, a
// Get for the messages now reachable, a Put for the slot given back, and
// slept on until their own poll, up to 50 ms later. The sleepers are the
// sleep bits, set by hand; the wake is the bit cleared.
func TestRescueWakesTheOtherWaiters(t *testing.T) {
	polls := map[string]func(q *queue.Queue[gated]) error{
		"Put": queue.PollPut[gated],
		"Get": queue.PollGet[gated],
	}
	for name, poll := range polls {
		t.Run(name, func(t *testing.T) {
			q, err := queue.New(queue.Options[gated]{MaxSize: 8, Codec: gateCodec{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { q.Close() })
			ctx := ctxT(t)
			killHeld(t, ctx, gatedPut, q)    // its slot claimed at the head
			for v := int64(5); v < 12; v++ { // and the queue full behind it
				if err := q.Put(ctx, gated{V: v}); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := q.TryPut(gated{V: 12}); ok || err != nil {
				t.Fatalf("a Put on the full queue: %v, %v; want no room", ok, err)
			}
			if v, ok, err := q.TryGet(); ok || err != nil {
				t.Fatalf("a Get behind the dead producer's slot: %+v, %v, %v; want nothing yet", v, ok, err)
			}
			getAsleep, putAsleep := queue.Asleep(q)
			if err := poll(q); err != notify.Recheck {
				t.Fatalf("the poll of a blocked %s: %v, want a recheck (it rescued the slot)", name, err)
			}
			if getAsleep() {
				t.Error("the rescue let a queued message through and woke no Get")
			}
			if name == "Put" && putAsleep() {
				t.Error("the rescue gave a slot back and woke no other Put")
			}
			if v, err := q.Get(ctx); err != nil || v.V != 5 {
				t.Fatalf("Get after the rescue: %+v, %v; want 5", v, err)
			}
		})
	}
}
