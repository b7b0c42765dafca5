package process_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
)

// TestWhileRuns: a wait on something a child is to do, bounded by
// WhileRuns, ends when the child is killed instead, with a cause that
// says so; the copy of a ctx whose child lives ends with cancel alone.
func TestWhileRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	s := shmtest.Segment(t, 64)
	p, err := sleeper.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ready := atomics.MustUint32At(s.Bytes(), 0)
	for ready.Load() == 0 {
		if err := atomics.Await(ctx, ready, 0, nil); err != nil {
			t.Fatal(err)
		}
	}

	live, stop := process.WhileRuns(ctx, p)
	stop()
	if err := context.Cause(live); !errors.Is(err, context.Canceled) {
		t.Fatalf("cause after cancel, the child alive: %v; want context.Canceled", err)
	}

	wctx, done := process.WhileRuns(ctx, p)
	defer done()
	never := atomics.MustUint32At(s.Bytes(), 8) // the sleeper never sets it
	go p.Kill()
	err = atomics.Await(wctx, never, 0, nil)
	for err == nil {
		err = atomics.Await(wctx, never, 0, nil)
	}
	var ee *process.ExitError
	if cause := context.Cause(wctx); !errors.Is(cause, process.ErrExited) || !errors.As(cause, &ee) || ee.Code != -9 || ctx.Err() != nil {
		t.Fatalf("wait for a killed child's act = %v, cause %v; want a cause matching ErrExited and the child's ExitError (killed by signal 9)", err, cause)
	}
	var never2 process.Process
	nctx, ndone := process.WhileRuns(ctx, &never2)
	defer ndone()
	if err := context.Cause(nctx); !errors.Is(err, process.ErrNotStarted) {
		t.Fatalf("WhileRuns of a process never started: cause %v; want ErrNotStarted", err)
	}
}

// TestWaitAll: WaitAll returns the first failure as soon as it comes, a
// sleeper still running beside it (waiting for each in turn would wait
// for the sleeper for ever), and nil once every child has exited 0.
func TestWaitAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	s, err := sleeper.Start(ctx, shmtest.Segment(t, 64))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	f, err := failer.Start(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ee *process.ExitError
	if err := process.WaitAll(ctx, s, f); !errors.As(err, &ee) || ee.Code != 3 || ctx.Err() != nil {
		t.Fatalf("WaitAll of a sleeper and a child that exits 3 = %v; want the latter's ExitError", err)
	}
	a, err := argEcho.Start(ctx, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := argEcho.Start(ctx, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	if err := process.WaitAll(ctx, a, b); err != nil {
		t.Fatalf("WaitAll of two children that exit 0 = %v", err)
	}
}
