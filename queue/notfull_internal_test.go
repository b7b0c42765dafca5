package queue

import (
	"context"
	"testing"
)

// TestGetWakesProducersAfterSkippingGivenUpSlots: a Get (or GetFunc) that
// finds only slots a producer gave up (as the rescue of a producer killed
// mid-Put gives its slot up; here given up by hand) hands them back to the
// producers, and must wake a producer asleep on the full queue though it
// got nothing. It did not: the ring woke its own waiters, not the queue's,
// and a producer asleep past its first park slept on until its poll, 50 ms
// later (GetFunc did so after the others were fixed). The sleeper is the
// sleep bit of notFull, set by hand; the wake is that bit cleared.
func TestGetWakesProducersAfterSkippingGivenUpSlots(t *testing.T) {
	canceled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // one try, then the context's error
		return ctx
	}
	gets := map[string]struct {
		get  func(q *Queue[int64]) error
		want error // with nothing to get
	}{
		"Get": {func(q *Queue[int64]) error {
			_, err := q.Get(canceled())
			return err
		}, context.Canceled},
		"TryGet": {func(q *Queue[int64]) error {
			_, _, err := q.TryGet()
			return err
		}, nil},
		"GetFunc": {func(q *Queue[int64]) error {
			return q.GetFunc(canceled(), func([]byte) error { return nil })
		}, context.Canceled},
		"GetBatch": {func(q *Queue[int64]) error {
			_, err := q.GetBatch(canceled(), make([]int64, 4))
			return err
		}, context.Canceled},
	}
	for name, g := range gets {
		t.Run(name, func(t *testing.T) {
			q, err := New[int64](Options[int64]{MaxSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			n, err := q.ring.TryPutBatchFunc(2, func(int, []byte) int { return -1 }) // given up
			if n != 0 || err != nil {
				t.Fatalf("giving up 2 slots: %d, %v", n, err)
			}
			if got := q.ring.Len(); got != 2 {
				t.Fatalf("%d slots outstanding, want the 2 given up", got)
			}
			seq := q.ctl.notFull.Seq
			asleep := seq.Load() | 1
			seq.Store(asleep) // a producer asleep on the full queue
			if err := g.get(q); err != g.want {
				t.Fatalf("%s with nothing to get: %v, want %v", name, err, g.want)
			}
			if got := q.ring.Len(); got != 0 {
				t.Fatalf("%d slots outstanding after the Get, want 0: it did not skip the given-up slots", got)
			}
			if seq.Load() == asleep {
				t.Fatal("the Get handed back 2 slots and woke no producer")
			}
		})
	}
}
