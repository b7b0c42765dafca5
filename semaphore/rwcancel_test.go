package semaphore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// rwCanceller read-locks RW again and again with a context that it
// cancels 2 ms into each try, until the parent sets word 2, having set
// word 1 once it began: a process that polls the lock with a timeout.
var rwCanceller = process.Register("sem-rw-canceller", func(ctx context.Context, a rwArgs) error {
	a.F.signal(1, 1)
	for a.F.u32(2).Load() == 0 {
		c, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(2*time.Millisecond, cancel)
		if a.RW.RLockContext(c) == nil {
			a.RW.RUnlock()
		}
		t.Stop()
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
})

// TestRWMutexDeadWriterWhileOthersCancel: a reader behind a writer killed
// holding the lock takes the write lock over (ErrOwnerDead) within its
// poll period while another process keeps cancelling its own read-lock
// attempts: each cancel used to wake every sleeper on the lock's word, and
// a reader woken more often than its poll period never checked the
// writer's liveness (canceled after 2.8 s here; now about a millisecond
// after the writer's death).
func TestRWMutexDeadWriterWhileOthersCancel(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	f.await(t, 0, 1, recoverWithin)
	c, err := rwCanceller.Start(context.Background(), rwArgs{RW: rw, F: f})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.signal(2, 1)
		if err := c.Wait(); err != nil {
			t.Error(err)
		}
	}()
	f.await(t, 1, 1, recoverWithin)
	p.Kill()
	p.Wait()
	// A cancel at the bound, not a deadline: a deadline shortens the
	// reader's last sleep to what is left of it, and that sleep ends in a
	// liveness check just before it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(3*time.Second, cancel)
	t0 := time.Now()
	err = rw.RLockContext(ctx)
	if !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatalf("RLockContext behind a killed writer = %v after %v; want ErrOwnerDead within a poll period", err, time.Since(t0).Round(time.Millisecond))
	}
	rw.MarkConsistent()
	rw.Unlock()
}
