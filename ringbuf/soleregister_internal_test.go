package ringbuf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type soleRegArgs struct {
	Seg *shm.Segment // holds ring "r"
}

// soleRegW holds its process's membarrier registration, opens ring r and
// puts a message: the first claim on the producers' side, which has no
// sole claimer yet. The Put must not wait for the registration. Once it
// is let through, the producer puts a second message, plainly.
var soleRegW = process.Register("ringbuf-sole-registration-held", func(ctx context.Context, a soleRegArgs) error {
	release := make(chan struct{})
	membarrier.HoldRegistration(release) // before anything of this process asks for it
	r, err := OpenMPMC(a.Seg, "r")
	if err != nil {
		close(release)
		return err
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- r.Put(ctx, []byte{1}) }()
	bound := 10 * time.Second
	select {
	case err := <-done:
		close(release)
		if err != nil {
			return err
		}
	case <-time.After(bound):
		close(release)
		return fmt.Errorf("the first Put of a process whose membarrier registration is under way waited %v for it (it returned %v once the registration ran)", bound, <-done)
	}
	if !membarrier.Await() {
		return nil // refused: nothing plain to check
	}
	if err := r.Put(ctx, []byte{2}); err != nil {
		return err
	}
	if !r.enqSole.own {
		return fmt.Errorf("the first producer is not the side's sole claimer once registered")
	}
	return nil
})

// TestSoleFirstClaimDoesNotWaitForRegistration: membarrier(2)'s
// registration of a process waits for an RCU grace period (10-19 ms
// here, longer on a loaded machine), and the first claim on a side with no
// sole claimer waited for it so that it could claim plainly: the first
// message of a fresh worker process took a thousand times a Put. The
// first claim must go on by CAS (as Value's plain Update does), the
// plain claims starting once the process is registered.
func TestSoleFirstClaimDoesNotWaitForRegistration(t *testing.T) {
	skipNoSole(t)
	seg, r := soleRing(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
	defer cancel()
	child, err := soleRegW.Start(ctx, soleRegArgs{Seg: seg})
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	for _, want := range []byte{1, 2} {
		if _, err := r.Get(ctx, buf); err != nil || buf[0] != want {
			t.Fatalf("Get: message %d, %v; want message %d", buf[0], err, want)
		}
	}
}
