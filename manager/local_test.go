package manager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
)

// A registered method that blocks until the test lets it go, so that a
// call from the server's own process (New) finds its object's lock held.
type latch struct{ calls int }

var (
	latchIn      = make(chan struct{}, 1)
	latchRelease chan struct{} // set by the test before the first call
	latchType    = manager.RegisterType("test.latch", func() *latch { return &latch{} })
	latchHold    = manager.RegisterMethod(latchType, "hold", func(l *latch, _ int) (int, error) {
		l.calls++
		latchIn <- struct{}{}
		<-latchRelease
		return l.calls, nil
	})
)

// TestLocalCallHonoursContext: a call from the process of a New server
// that waits for an object's lock (held by a method that blocks) returns
// ctx's error once ctx ends, as a call through a pipe does, and its
// request is not applied. The in-process call went straight to the
// object's sync.Mutex and slept there past its deadline, until the method
// returned.
func TestLocalCallHonoursContext(t *testing.T) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	m := must[*manager.Manager](t)(manager.New())
	defer m.Shutdown()
	latchRelease = make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(latchRelease)
		}
	}()
	o := must[*manager.Object[latch]](t)(latchType.New(ctx, m))
	first := make(chan error, 1)
	go func() {
		_, err := latchHold.Call(ctx, o, 0)
		first <- err
	}()
	select {
	case <-latchIn:
	case <-ctx.Done():
		t.Fatal("the method never started")
	}
	// The lock is held until latchRelease closes. A deadline rather than
	// a cancel: the call must be waiting for the lock when its ctx ends
	// (on a loaded machine it may start late and see the deadline passed,
	// which the test accepts as well).
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := latchHold.Call(short, o, 0)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the waiting call returned %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(shmtest.Timeout(t, 5*time.Second)):
		t.Fatal("a call waiting for the object's lock did not return when its ctx ended")
	}
	close(latchRelease)
	released = true
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The abandoned call ran nothing: this is the method's second run.
	// Its notice fits latchIn (the first one was taken), and is taken
	// here, so that a next run (go test -count) waits for its own.
	n := must[int](t)(latchHold.Call(ctx, o, 0))
	<-latchIn
	if n != 2 {
		t.Fatalf("the method ran %d times, want 2", n)
	}
}
