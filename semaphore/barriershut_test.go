package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// TestBarrierArrivalWhileShut: a release moves the phase after it has
// released the barrier's lock, its generation shut meanwhile. A party that
// arrives in that gap belongs to the next generation: it must wait for
// the move (parked on the phase), not count itself in the generation
// being released (with one party, it would release it itself, and the
// releaser's move would fail). Both Waits succeed, two generations on.
func TestBarrierArrivalWhileShut(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	phase := semaphore.BarrierPhase(b)
	before := phase.Load()
	late := make(chan error, 1)
	var once atomic.Bool
	semaphore.SetBarrierMoveGapHook(t, func() {
		if once.Swap(true) {
			return // the late party's own release
		}
		go func() { late <- barrierWait(ctx, b) }()
		until(t, "the party arriving in the gap parks on the phase", func() bool { return parkedOn(phase) })
	})
	if err := barrierWait(ctx, b); err != nil {
		t.Fatalf("the releaser, with a party arriving in its gap: %v", err)
	}
	if err := <-late; err != nil {
		t.Fatalf("the party that arrived in the gap: %v", err)
	}
	if got, want := phase.Load(), before+2*4; got != want {
		t.Fatalf("phase %#x, want %#x: two releases, each of one generation", got, want)
	}
}

// barrierMoveKilled waits on B as its last party (ID 0) or resets it (ID
// 1), and stops, to be killed, between the release of the barrier's lock
// and the CAS that moves the phase, once it has said so in word 0.
var barrierMoveKilled = process.Register("sem-barrier-move-killed", func(ctx context.Context, a barrierArgs) error {
	semaphore.SetBarrierMoveGapHookForChild(func() {
		a.F.signal(0, 1)
		select {}
	})
	var err error
	if a.ID == 1 {
		err = a.B.Reset()
	} else {
		_, err = a.B.WaitContext(ctx)
	}
	return fmt.Errorf("it returned (%v): the hook never ran", err)
})

// TestBarrierMoverKilledInGap: the last party, and Reset, release the
// barrier's lock before the CAS that moves the phase, having cleared the
// party table, so either can die between the two with the lock free and
// nobody recorded. The party waiting in the generation must not be
// released, nor wait for ever: it finds the mover dead at its liveness
// poll (from the closer word) and gets ErrBroken naming the death. Reset
// makes the barrier usable again.
func TestBarrierMoverKilledInGap(t *testing.T) {
	t.Run("release", func(t *testing.T) { barrierMoverKilledInGap(t, 0) })
	t.Run("reset", func(t *testing.T) { barrierMoverKilledInGap(t, 1) })
}

func barrierMoverKilledInGap(t *testing.T, id int) {
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	errs := waitingParty(ctx, b)
	p, err := barrierMoveKilled.Start(context.Background(), barrierArgs{B: b, F: f, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Kill()
	f.await(t, 0, 1, 10*time.Second)
	if h := semaphore.BarrierLock(b).Owner(); h.Pid != 0 || b.Waiting() != 0 {
		t.Fatalf("the mover stopped with the lock held by %d, %d parties counted: not between the lock and the CAS", h.Pid, b.Waiting())
	}
	select {
	case err := <-errs:
		t.Fatalf("the waiting party returned before the mover moved the phase: %v", err)
	default:
	}
	p.Kill()
	p.Wait()
	start := time.Now()
	err = <-errs
	if !errors.Is(err, semaphore.ErrBroken) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "died releasing or resetting") {
		t.Fatalf("Wait beside a mover killed before its move: %v, want ErrBroken naming the death", err)
	}
	t.Logf("%v in %v after the kill", err, time.Since(start))
	if !b.Broken() {
		t.Fatal("barrier not broken")
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	late := make(chan error, 1)
	go func() { late <- barrierWait(ctx, b) }()
	if err := barrierWait(ctx, b); err != nil {
		t.Fatalf("Wait after the Reset: %v", err)
	}
	if err := <-late; err != nil {
		t.Fatalf("Wait after the Reset: %v", err)
	}
}
