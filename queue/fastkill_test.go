package queue_test

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// fastPutHeld puts 100 (the handle's first Put: counted, it attaches the
// handle), then stops inside the uncounted Put of 101 with its slot
// claimed and nothing written, for the parent to SIGKILL.
var fastPutHeld = process.Register("queue-fast-put-held", func(ctx context.Context, q *queue.Queue[int64]) error {
	if err := q.Put(ctx, 100); err != nil {
		return err
	}
	queue.SetFastHook(hold)
	return q.Put(ctx, 101)
})

// fastGetHeld gets once (counted, it attaches the handle), then stops
// inside the uncounted Get of the next message with the message claimed,
// for the parent to SIGKILL.
var fastGetHeld = process.Register("queue-fast-get-held", func(ctx context.Context, q *queue.Queue[int64]) error {
	if _, err := q.Get(ctx); err != nil {
		return err
	}
	queue.SetFastHook(hold)
	_, err := q.Get(ctx)
	return err
})

// fastJoinableGetHeld gets a task and marks it done (counted: it attaches
// the handle and takes this process's task record), then stops inside the
// uncounted Get of the next task with it claimed, for the parent to
// SIGKILL.
var fastJoinableGetHeld = process.Register("queue-fast-joinable-get-held", func(ctx context.Context, j *queue.Joinable[int64]) error {
	if _, err := j.Get(ctx); err != nil {
		return err
	}
	if err := j.TaskDone(); err != nil {
		return err
	}
	queue.SetFastHook(hold)
	_, err := j.Get(ctx)
	return err
})

// fastQueue makes a queue of 16 int64 values (the binary codec: Put and
// Get take the uncounted path once attached), closed with the test, and
// returns it with the test's context.
func fastQueue(t *testing.T) (*queue.Queue[int64], context.Context) {
	t.Helper()
	q, err := queue.New(queue.Options[int64]{MaxSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q, ctxT(t)
}

// TestFastPutKilledHoldingSlot SIGKILLs a producer inside the binary
// codec's uncounted Put, its slot claimed and not written, 20 times: the
// messages before and after the slot all arrive, in order, the dead Put's
// message never does, and nothing waits for it.
func TestFastPutKilledHoldingSlot(t *testing.T) {
	q, ctx := fastQueue(t)
	for trial := range shmtest.Iterations(t, 20) {
		if err := q.Put(ctx, 1); err != nil {
			t.Fatal(err)
		}
		killHeld(t, ctx, fastPutHeld, q) // 100 queued, then the dead claim
		if err := q.Put(ctx, 2); err != nil {
			t.Fatalf("trial %d: Put after the kill: %v", trial, err)
		}
		for _, want := range []int64{1, 100, 2} {
			if v, err := q.Get(ctx); err != nil || v != want {
				t.Fatalf("trial %d: Get = %d, %v; want %d", trial, v, err, want)
			}
		}
		if v, ok, err := q.TryGet(); ok || err != nil {
			t.Fatalf("trial %d: a message more: %d, %v", trial, v, err)
		}
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestFastGetKilledHoldingMessage SIGKILLs a consumer inside the binary
// codec's uncounted Get, a message claimed and not taken, 20 times: that
// message goes to this process's Get exactly once, with the others (0
// lost, 0 duplicated).
func TestFastGetKilledHoldingMessage(t *testing.T) {
	q, ctx := fastQueue(t)
	for trial := range shmtest.Iterations(t, 20) {
		base := int64(trial) * 10
		for i := range int64(4) {
			if err := q.Put(ctx, base+i); err != nil {
				t.Fatal(err)
			}
		}
		killHeld(t, ctx, fastGetHeld, q) // got base, died holding base+1
		got := map[int64]int{}
		for range 2 {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get after the kill: %v (got %v)", trial, err, got)
			}
			got[v]++
		}
		if v, err := q.Get(ctx); err != nil {
			t.Fatalf("trial %d: Get of the dead consumer's message: %v (got %v)", trial, err, got)
		} else {
			got[v]++
		}
		for i := base + 1; i <= base+3; i++ {
			if got[i] != 1 {
				t.Fatalf("trial %d: message %d got %d times (%v)", trial, i, got[i], got)
			}
		}
		if v, ok, err := q.TryGet(); ok || err != nil {
			t.Fatalf("trial %d: a message more: %d, %v", trial, v, err)
		}
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestFastJoinableGetKilledHoldingTask: a JoinableQueue's Get takes the
// uncounted path once its process has a task record. A consumer killed
// there with a task claimed and not yet counted, 20 times: the task goes
// to this process's Get exactly once, and Join returns nil once this
// process has marked the rest done (the dead consumer's record shows one
// task got and done: nothing lost, nothing owed).
func TestFastJoinableGetKilledHoldingTask(t *testing.T) {
	j, err := queue.NewJoinable(queue.Options[int64]{MaxSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 20) {
		base := int64(trial) * 10
		for i := range int64(4) {
			if err := j.Put(ctx, base+i); err != nil {
				t.Fatal(err)
			}
		}
		killHeld(t, ctx, fastJoinableGetHeld, j) // got and did base, died holding base+1
		got := map[int64]int{}
		for range 3 {
			v, err := j.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get after the kill: %v (got %v)", trial, err, got)
			}
			got[v]++
			if err := j.TaskDone(); err != nil {
				t.Fatalf("trial %d: TaskDone: %v", trial, err)
			}
		}
		for i := base + 1; i <= base+3; i++ {
			if got[i] != 1 {
				t.Fatalf("trial %d: task %d got %d times (%v)", trial, i, got[i], got)
			}
		}
		if err := j.Join(ctx); err != nil {
			t.Fatalf("trial %d: Join = %v, want nil (unfinished %d)", trial, err, j.Unfinished())
		}
	}
	if err := queue.Sane(j.Queue); err != nil {
		t.Fatal(err)
	}
}
