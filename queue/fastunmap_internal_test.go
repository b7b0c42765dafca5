package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestFastCallsAfterCloseUnmapped: the fast Put and Get look at the
// handle's closed flag before they take the ring's lock, so a call whose
// look came just before a Close may go on once that Close has run to its
// end and, for a queue made by New, unmapped the segment. Such a call must
// touch nothing of the mapping before the ring's lock, under which the
// ring's own closed flag turns it away: it returns ErrClosed. The state
// the late call finds is made here by Close and then the handle's flag
// set back as that call read it. The Put read the queue's shutdown word
// first (a fault on the unmapped page).
func TestFastCallsAfterCloseUnmapped(t *testing.T) {
	q, err := New(Options[int64]{MaxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()
	if err := q.Put(ctx, 1); err != nil { // attaches: later calls go in fast
		t.Fatal(err)
	}
	if _, err := q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if !q.fast {
		t.Fatal("an int64 queue without MaxBytes does not take the fast path")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q.closed.Store(false) // as a call that looked before Close began saw it
	late := func(name string, call func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			debug.SetPanicOnFault(true)
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Errorf("faulted: %v", p)
				}
			}()
			done <- call()
		}()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("%s that looked at closed before Close unmapped the queue: %v, want ErrClosed", name, err)
		}
	}
	late("Put", func() error { return q.Put(ctx, 2) })
	late("Get", func() error { _, err := q.Get(ctx); return err })
}
