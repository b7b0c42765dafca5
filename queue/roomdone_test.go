package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
)

// TestPutBatchDoneContextTakesFreeSlots: PutBatch with a context that is
// done already puts what fits, as Put would one by one (a Put finds room
// before it looks at its context), although fewer slots are free than
// the run it waits for room for: 3 of 8 put, then the context's error;
// nothing lost or reordered.
func TestPutBatchDoneContextTakesFreeSlots(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := ctxT(t)
	for v := range int64(61) {
		if err := q.Put(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	n, err := q.PutBatch(done, []int64{61, 62, 63, 64, 65, 66, 67, 68})
	if n != 3 || !errors.Is(err, context.Canceled) {
		t.Fatalf("PutBatch with 3 slots free and a done context = %d, %v; want 3, context.Canceled", n, err)
	}
	for want := range int64(64) {
		v, err := q.Get(ctx)
		if err != nil || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, err, want)
		}
	}
}
