package pipe

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestDialWaitingForSlotSeesClose: a Dial waiting for a free offer slot
// (all taken, here by claims that name this live process) when the
// listener closes returns ErrRefused on the Close's wake, without a
// liveness poll: before, it looked at the slots again, found them taken,
// and slept until its next poll (50 ms) to see the close. The Close is
// placed by a hook that holds the dialer just before its wait, so the
// outcome depends on no timing.
func TestDialWaitingForSlotSeesClose(t *testing.T) {
	name := shmtest.Name(t)
	l, err := Listen(name, Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	me := procinfo.Self().Word()
	for i := range offerSlots {
		atomics.MustUint64At(l.body[lisOffers+i*offerSize:], offerClaim).Store(me) // taken by a live dialer
	}
	var polls atomic.Int32
	waiting, closed := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	testHookDialPoll = func() { polls.Add(1) }
	testHookReserveWait = func() {
		if once.CompareAndSwap(false, true) {
			polls.Store(0) // Dial's look before it reserved
			close(waiting)
			<-closed // the listener closes before this dialer waits
		}
	}
	defer func() { testHookDialPoll, testHookReserveWait = nil, nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := dialAsync(ctx, name)
	<-waiting
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(closed)
	err = <-done
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Dial waiting for a slot when the listener closed = %v, want ErrRefused", err)
	}
	if n := polls.Load(); n != 0 {
		t.Fatalf("Dial made %d liveness poll(s) after the listener's Close woke it: it saw the close only by polling", n)
	}
}

// dialAsync dials name from a goroutine of its own, closes the pipe if it
// got one, and sends Dial's error on the channel it returns.
func dialAsync(ctx context.Context, name string) <-chan error {
	done := make(chan error, 1)
	go func() {
		c, err := Dial(ctx, name, Options[string]{})
		if c != nil {
			c.Close()
		}
		done <- err
	}()
	return done
}
