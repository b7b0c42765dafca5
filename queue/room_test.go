package queue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
)

// roomQueue makes a queue of 64 int64 values in a segment of the test's,
// puts 0..n-1 into it, and returns it with the test's context; get(k)
// takes the next k values and checks that they come in order from 0.
func roomQueue(t *testing.T, n int64) (q *queue.Queue[int64], ctx context.Context, get func(k int)) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx = ctxT(t)
	for v := range n {
		if err := q.Put(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(0)
	get = func(k int) {
		t.Helper()
		for range k {
			v, err := q.Get(ctx)
			if err != nil || v != want {
				t.Fatalf("Get = %d, %v; want %d", v, err, want)
			}
			want++
		}
	}
	return q, ctx, get
}

// TestBlockedPutTakesShortRoom: a Put blocked on a full queue waits for
// room for more than its message (ringx.RoomGate), but only for a while:
// when the consumer takes one message and stops, the parked Put goes in; a
// PutBatch of 8 with 2 slots free puts 2 and waits for the rest; nothing
// is lost or reordered.
func TestBlockedPutTakesShortRoom(t *testing.T) {
	q, ctx, get := roomQueue(t, 64)

	done := make(chan error, 1)
	go func() { done <- q.Put(ctx, 64) }()
	for queue.PutSleepers(q) == 0 { // the Put past its first try and its spin
		if ctx.Err() != nil {
			t.Fatal("Put on a full queue never parked")
		}
		runtime.Gosched()
	}
	get(1)
	if err := <-done; err != nil {
		t.Fatalf("Put with one slot given back: %v", err)
	}

	get(2)
	batch := []int64{65, 66, 67, 68, 69, 70, 71, 72}
	put := make(chan int, 1)
	go func() {
		n, err := q.PutBatch(ctx, batch)
		if err != nil {
			t.Error(err)
		}
		put <- n
	}()
	for q.Len() < 64 { // the 2 free slots taken: the batch waits for the rest
		select {
		case n := <-put:
			t.Fatalf("PutBatch returned %d with 2 slots free", n)
		default:
		}
		if ctx.Err() != nil {
			t.Fatal("PutBatch left the 2 free slots empty")
		}
	}
	get(70) // 3..64 and the batch
	if n := <-put; n != len(batch) {
		t.Fatalf("PutBatch put %d of %d", n, len(batch))
	}
	if l := q.Len(); l != 0 {
		t.Fatalf("Len %d after draining", l)
	}
}

// TestPutBatchDoneContextTakesFreeSlots: PutBatch with a context that is
// done already puts what fits, as Put would one by one (a Put finds room
// before it looks at its context), although fewer slots are free than
// the run it waits for room for: 3 of 8 put, then the context's error;
// nothing lost or reordered.
func TestPutBatchDoneContextTakesFreeSlots(t *testing.T) {
	q, ctx, get := roomQueue(t, 61)
	done, cancel := context.WithCancel(ctx)
	cancel()
	n, err := q.PutBatch(done, []int64{61, 62, 63, 64, 65, 66, 67, 68})
	if n != 3 || !errors.Is(err, context.Canceled) {
		t.Fatalf("PutBatch with 3 slots free and a done context = %d, %v; want 3, context.Canceled", n, err)
	}
	get(64)
}

// TestStreamingGetTakesLoneMessage: a Get that finds a message at once
// marks its handle streaming, so that its next wait waits for a run of
// messages (ringx.DataGate), but only for a while: a streaming Get parked
// on an empty queue gets a lone message put after it, in order, and a Get
// that waited is no longer streaming.
func TestStreamingGetTakesLoneMessage(t *testing.T) {
	q, ctx, get := roomQueue(t, 3)
	if queue.Streaming(q) {
		t.Fatal("a handle that never got is streaming")
	}
	get(3)
	if !queue.Streaming(q) {
		t.Fatal("Gets that found their messages at once: not streaming")
	}
	got := make(chan error, 1)
	go func() {
		v, err := q.Get(ctx)
		if err == nil && v != 3 {
			err = fmt.Errorf("Get = %d, want 3", v)
		}
		got <- err
	}()
	for queue.GetSleepers(q) == 0 { // past its gate's window and its spin
		if ctx.Err() != nil {
			t.Fatal("Get on an empty queue never parked")
		}
		runtime.Gosched()
	}
	if err := q.Put(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("streaming Get of a lone message: %v", err)
	}
	if queue.Streaming(q) {
		t.Fatal("a Get that waited left its handle streaming")
	}
	if err := q.Put(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); err != nil || v != 4 {
		t.Fatalf("Get = %d, %v; want 4", v, err)
	}
}
