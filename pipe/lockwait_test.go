package pipe_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/pipe"
)

// TestWaitingCallGivesUpBehindAnother: a Send parked on a full pipe (or a
// Recv on an empty one) with a long deadline holds its end's send (or
// receive) lock for as long as it waits; a call of another goroutine on
// the same end that waits for that lock still gives up when its own
// context ends, as every blocking call does. It waited for the lock with
// no deadline: a Recv or Poll with a 20 ms timeout hung for as long as
// the other goroutine's Recv waited.
func TestWaitingCallGivesUpBehindAnother(t *testing.T) {
	a, b, err := pipe.New(pipe.Options[[]byte]{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	ctx := ctxT(t)
	// Fill a's direction: Sends with a short deadline until one finds no room.
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		err := a.Send(c, make([]byte, 100))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	long, stop := context.WithCancel(ctx)
	defer stop()
	parked := make(chan error, 2)
	go func() { parked <- a.Send(long, make([]byte, 100)) }() // a's send side: full
	go func() { _, err := a.Recv(long); parked <- err }()     // a's receive side: empty
	for !pipe.Busy(a, true) || !pipe.Busy(a, false) {
		runtime.Gosched()
	}

	calls := map[string]func(context.Context) error{
		"Send":      func(c context.Context) error { return a.Send(c, make([]byte, 100)) },
		"SendBytes": func(c context.Context) error { return a.SendBytes(c, make([]byte, 100)) },
		"Recv":      func(c context.Context) error { _, err := a.Recv(c); return err },
		"RecvBytes": func(c context.Context) error { _, err := a.RecvBytes(c); return err },
		"Peek":      func(c context.Context) error { _, err := a.Peek(c); return err },
		"Poll": func(c context.Context) error {
			if ok, err := a.Poll(c); ok || err != nil {
				return errors.New("Poll: ready, or an error")
			}
			return context.DeadlineExceeded
		},
	}
	done := make(chan string, len(calls))
	for name, call := range calls {
		go func() {
			c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if err := call(c); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s with a 20 ms deadline beside a parked call = %v, want its deadline", name, err)
			}
			done <- name
		}()
	}
	timeout := time.After(2 * time.Second)
	for range calls {
		select {
		case <-done:
		case <-timeout:
			stop() // the parked calls end, and with them the stuck ones
			t.Errorf("a call with a 20 ms deadline still waits after 2 s for another goroutine's parked call")
			for range len(calls) - 1 {
				<-done
			}
			return
		}
	}
	stop()
	for range 2 {
		if err := <-parked; !errors.Is(err, context.Canceled) {
			t.Errorf("parked call = %v", err)
		}
	}
}
