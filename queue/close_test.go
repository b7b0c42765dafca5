package queue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// Close is this handle's end, not the queue's: another handle keeps
// working, the closed one says ErrClosed, and closing twice is harmless.
func TestCloseIsPerHandle(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	other, err := queue.Open(seg, "q", queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := other.Put(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := other.Put(ctx, 2); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Put on a closed handle = %v, want ErrClosed", err)
	}
	if _, err := other.Get(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Get on a closed handle = %v, want ErrClosed", err)
	}
	if q.IsShutdown() {
		t.Fatal("closing a handle shut the queue down")
	}
	if err := q.Put(ctx, 3); err != nil {
		t.Fatalf("Put through the open handle = %v", err)
	}
	for _, want := range []int{1, 3} {
		if v, err := q.Get(ctx); v != want || err != nil {
			t.Fatalf("Get = %d, %v; want %d", v, err, want)
		}
	}
}

// A Get blocked on a handle that another goroutine closes returns
// ErrClosed, and Close returns once it has.
func TestCloseWakesHandleWaiters(t *testing.T) {
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() {
		_, err := q.Get(context.Background())
		errs <- err
	}()
	for queue.GetSleepers(q) == 0 {
		runtime.Gosched()
		// The getter parks: Close must find it waiting, not before.
		if err := ctxT(t).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("parked Get after Close = %v, want ErrClosed", err)
	}
}

type sumArgs struct {
	In, Out *queue.Queue[int]
}

// sumWorker is a consumer written as Python's would be: it ranges over the
// queue until it is shut down, sends its sum, and closes its handles in a
// defer, which ends nothing for anyone else.
var sumWorker = process.Register("queue-sum-all", func(ctx context.Context, a sumArgs) error {
	defer a.In.Close()
	defer a.Out.Close()
	sum := 0
	for v, err := range a.In.All(ctx) {
		if err != nil {
			return err
		}
		sum += v
	}
	return a.Out.Put(ctx, sum)
})

// Workers range over a queue with All until it is shut down, and their
// deferred Close leaves the queues working for the parent.
func TestAllAcrossProcesses(t *testing.T) {
	in, err := queue.New(queue.Options[int]{MaxSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := queue.New(queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx := ctxT(t)
	var ps []*process.Process
	for range 3 {
		p, err := sumWorker.Start(ctx, sumArgs{In: in, Out: out})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	const n = 500
	for i := 1; i <= n; i++ {
		if err := in.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	in.Shutdown()
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for range ps {
		v, err := out.Get(ctx) // after the workers closed their handles
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	if want := n * (n + 1) / 2; total != want {
		t.Fatalf("sum %d, want %d", total, want)
	}
	if out.IsShutdown() {
		t.Fatal("a worker's Close shut the queue down")
	}
	if err := out.Put(ctx, 7); err != nil {
		t.Fatalf("Put after the workers closed: %v", err)
	}
}

// Breaking out of All leaves the rest queued; an error ends the loop after
// one (zero, err) step.
func TestAllBreakAndError(t *testing.T) {
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := ctxT(t)
	for i := range 5 {
		q.Put(ctx, i)
	}
	var got []int
	for v, err := range q.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		if len(got) == 2 {
			break
		}
	}
	if fmt.Sprint(got) != "[0 1]" || q.Len() != 3 {
		t.Fatalf("got %v, %d left; want [0 1], 3 left", got, q.Len())
	}
	for range 3 {
		q.Get(ctx)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	steps := 0
	for v, err := range q.All(cctx) {
		steps++
		if v != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("step on a cancelled ctx = %d, %v", v, err)
		}
	}
	if steps != 1 {
		t.Fatalf("%d steps, want 1", steps)
	}
}

// TestCloseRacesFastCalls closes a queue made by New (whose Close unmaps
// its segment) while other goroutines Put and Get through the same handle
// as fast as they can: the binary codec's calls go in under the ring's
// handle locks alone, not counted in the handle's calls, and must all be
// out of the mapping before Close unmaps it. Every call returns nil or
// ErrClosed, and nothing faults.
func TestCloseRacesFastCalls(t *testing.T) {
	for trial := range shmtest.Iterations(t, 50) {
		q, err := queue.New(queue.Options[int64]{MaxSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		if err := q.Put(ctx, 0); err != nil { // attaches: the calls below go in fast
			t.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
		var got atomic.Int64
		errs := make(chan error, 4)
		for range 2 {
			shmtest.Go(t, func() {
				for {
					if err := q.Put(ctx, 1); err != nil {
						errs <- err
						return
					}
				}
			})
			shmtest.Go(t, func() {
				for {
					if _, err := q.Get(ctx); err != nil {
						errs <- err
						return
					}
					got.Add(1)
				}
			})
		}
		for got.Load() < int64(100+trial*37) {
			runtime.Gosched()
			if err := ctx.Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if err := <-errs; !errors.Is(err, queue.ErrClosed) {
				t.Fatalf("trial %d: call racing Close = %v, want ErrClosed", trial, err)
			}
		}
	}
}
