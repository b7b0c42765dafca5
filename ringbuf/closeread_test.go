package ringbuf_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

type closeReadArgs struct {
	R     *ringbuf.MPSC
	Flags *shm.Segment // word 0: 1 once the child holds the consumer side; the parent stores 2 to have it CloseRead; 3 once it has
}

// closeReadW takes the consumer side of a shared MPSC ring, says so, and
// gives it up with CloseRead when told to.
var closeReadW = process.Register("ringbuf-closeread-consumer", func(ctx context.Context, a closeReadArgs) error {
	if err := a.R.AcquireConsumer(ctx); err != nil {
		return err
	}
	flag := atomics.MustUint32At(a.Flags.Bytes(), 0)
	flag.Store(1)
	atomics.Wake(flag, -1)
	for flag.Load() != 2 {
		if err := atomics.Await(ctx, flag, 1, nil); err != nil {
			return err
		}
	}
	if err := a.R.CloseRead(); err != nil {
		return err
	}
	flag.Store(3)
	atomics.Wake(flag, -1)
	return nil
})

// TestCloseReadWakesAcquireConsumer: a process waiting in AcquireConsumer
// while another process holds the consumer side takes it as soon as that
// process gives it up with CloseRead, as with ReleaseConsumer: CloseRead
// changes the word the waiter sleeps on, so the wait ends on the change,
// not at its poll period (an hour here) or a sleep slice (250 ms), which
// is what it did when CloseRead left the word alone. The child closes
// between the parent's look at the word and its wait (placed by a hook
// that waits for the close), so the outcome depends on no timing.
func TestCloseReadWakesAcquireConsumer(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewMPSC(seg, "r", 1<<12, ringbuf.WithPoll(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	flags := shmtest.Segment(t, 64)
	ctx := ctxT(t, 20*time.Second)
	p, err := closeReadW.Start(ctx, closeReadArgs{R: r, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	awaitFlag(t, flags, 1)
	flag := atomics.MustUint32At(flags.Bytes(), 0)
	var waits, polls atomic.Int32
	ringbuf.SetAcquireWaitHook(func(after, polled bool) {
		if !after {
			if waits.Add(1) == 1 {
				flag.Store(2) // the child closes its end now, before we wait
				atomics.Wake(flag, -1)
				for flag.Load() != 3 {
					if err := atomics.Await(ctx, flag, 2, nil); err != nil {
						return // the test's context ended: AcquireConsumer fails with it
					}
				}
			}
			return
		}
		if polled {
			polls.Add(1)
		}
	})
	defer ringbuf.SetAcquireWaitHook(nil)
	if err := r.AcquireConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	if waits.Load() == 0 {
		t.Fatal("AcquireConsumer never waited: the child did not hold the consumer side")
	}
	if polls.Load() != 0 {
		t.Fatalf("AcquireConsumer waited out %d poll(s) after the holder's CloseRead: CloseRead left the word it waits on alone", polls.Load())
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}
