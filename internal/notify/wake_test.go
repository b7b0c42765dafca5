package notify_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// The words of the shared Event in canceller's segment, one per line.
const (
	wSeq = iota * shm.CacheLine
	wSleepers
	wStarted // the canceller has begun its waits
	wStop    // the test is done: the canceller returns
	wWords
)

type cancellerArgs struct{ Seg *shm.Segment }

// canceller waits on the shared Event, again and again, with a context
// that it cancels 2 ms into each wait, until the stop word is set: a
// consumer that polls a queue with a timeout. Each cancel wakes every
// sleeper on the Event's word, in every process (atomics.Await turns a
// cancel into a FUTEX_WAKE of the word), and changes nothing the waiters
// wait for.
var canceller = process.Register("notify-test-canceller", func(ctx context.Context, a cancellerArgs) error {
	b := a.Seg.Bytes()
	e := notify.Event{Seq: atomics.MustUint32At(b, wSeq), Sleepers: atomics.MustUint32At(b, wSleepers)}
	started, stop := atomics.MustUint32At(b, wStarted), atomics.MustUint32At(b, wStop)
	o := &atomics.WaitOptions{Poll: time.Hour, Check: func() error { return nil }}
	stopped := func() (bool, error) { return stop.Load() != 0, nil }
	for stop.Load() == 0 {
		c, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(2*time.Millisecond, cancel)
		started.Store(1)
		atomics.Wake(started, -1)
		e.Wait(c, o, stopped)
		t.Stop()
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
})

// TestEventCheckDespiteSpuriousWakes: a waiter's Check (the dead-peer
// check of a queue's Get) runs every poll period however often the
// waiter is woken without its condition changing. Another process waiting
// on the same Event with a context it cancels every few milliseconds
// wakes it far more often than its poll period; the Check must still run,
// and its error (every producer dead: ErrPeerDead) end the wait.
func TestEventCheckDespiteSpuriousWakes(t *testing.T) {
	seg, err := shm.CreateAnon(wWords)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	b := seg.Bytes()
	e := notify.Event{Seq: atomics.MustUint32At(b, wSeq), Sleepers: atomics.MustUint32At(b, wSleepers)}
	started, stop := atomics.MustUint32At(b, wStarted), atomics.MustUint32At(b, wStop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := canceller.Start(ctx, cancellerArgs{Seg: seg})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop.Store(1)
		if err := p.Wait(); err != nil {
			t.Error(err)
		}
	}()
	for started.Load() == 0 {
		if err := atomics.Await(ctx, started, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	gone := errors.New("every producer is dead")
	const poll = 20 * time.Millisecond
	o := &atomics.WaitOptions{Poll: poll, Check: func() error { return gone }}
	// The check is due 20 ms in; 3 s is a bound that only a wait that never
	// checks reaches. A cancel, not a deadline: a deadline shortens the
	// waiter's last sleep to what is left of it, and that sleep ends in a
	// Check just before the deadline.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	time.AfterFunc(3*time.Second, wcancel)
	t0 := time.Now()
	err = e.Wait(wctx, o, func() (bool, error) { return false, nil })
	if err != gone {
		t.Fatalf("Wait = %v after %v; want its Check's error, due every %v", err, time.Since(t0).Round(time.Millisecond), poll)
	}
}
