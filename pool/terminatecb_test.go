package pool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// TestTerminateFromCallback: a Terminate called in an OnDone callback
// returns, the workers exit (Join returns) and the pool refuses later
// calls, as Python's terminate does from a callback. It waited for the
// pool's goroutines, among them the one running the callback: for ever.
// (The pool is not the start helper's: a Terminate in cleanup would wait
// for that stuck goroutine too.)
func TestTerminateFromCallback(t *testing.T) {
	ctx := ctxFor(t)
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	pool.Submit(ctx, p, double, 21).OnDone(func(int64, error) { returned <- p.Terminate() })
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Terminate in OnDone = %v", err)
		}
	case <-time.After(shmtest.Timeout(t, 10*time.Second)):
		t.Fatal("Terminate called in an OnDone callback still waits after 10 s")
	}
	jctx, cancel := context.WithTimeout(ctx, shmtest.Timeout(t, 10*time.Second))
	defer cancel()
	if err := p.Join(jctx); err != nil {
		t.Fatalf("Join after a Terminate in OnDone = %v", err)
	}
	if _, err := pool.Apply(ctx, p, double, 1); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Apply after Terminate = %v, want ErrClosed", err)
	}
}

// TestTerminateInCallbackOfQueued: a Terminate called in the OnDone of a
// task still queued runs on the goroutine of the Terminate that fails the
// queued tasks, before that one had killed the workers: it waited for the
// slots, which waited for a worker only the outer Terminate would kill,
// and both waited for ever. Both return.
func TestTerminateInCallbackOfQueued(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	p, err := pool.Start(ctx, pool.Processes(1), pool.MaxInFlight(1))
	if err != nil {
		t.Fatal(err)
	}
	pool.Submit(ctx, p, hold, -1) // runs until killed: the others stay queued
	h.held(t)
	var last *pool.Future[int64]
	for i := range 64 {
		last = pool.Submit(ctx, p, hold, int64(i)) // queued behind it
	}
	inner := make(chan error, 1)
	last.OnDone(func(int64, error) { inner <- p.Terminate() })
	outer := make(chan error, 1)
	go func() { outer <- p.Terminate() }()
	select {
	case err := <-outer:
		if err != nil {
			t.Fatalf("Terminate = %v", err)
		}
		if err := <-inner; err != nil {
			t.Fatalf("Terminate in the queued task's OnDone = %v", err)
		}
	case <-time.After(shmtest.Timeout(t, 10*time.Second)):
		t.Fatal("Terminate, with a Terminate in a queued task's OnDone, still waits after 10 s")
	}
}
