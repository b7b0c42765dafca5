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

// TestBarrierArrivalWhileActionRuns: a party of another process waits in
// a generation of two; the last party, in this process, runs the action,
// and a third party arrives while it runs (the action returns only once
// that party has parked on the phase, or has returned). That party belongs
// to the next generation: it waits for the release and then arrives there,
// where a fourth party completes it, as in Python's threading.Barrier,
// whose action runs under its lock. Nobody gets ErrBroken (the party was
// refused as one too many, breaking the barrier for everyone); the action
// runs once per generation.
func TestBarrierArrivalWhileActionRuns(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	phase := semaphore.BarrierPhase(b)
	before := phase.Load()
	p, err := barrierWaitWorker.Start(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Kill()
	until(t, "the child's party waits", func() bool { return b.Waiting() == 1 || !p.Alive() })
	if !p.Alive() {
		t.Fatalf("the child ended before it waited: %v", p.Wait())
	}
	type result struct {
		idx int
		err error
	}
	late := make(chan result, 1)
	var actions atomic.Int32
	var lateReturned bool // what the action saw
	b.SetAction(func() error {
		if actions.Add(1) > 1 {
			return nil
		}
		go func() { idx, err := b.WaitContext(ctx); late <- result{idx, err} }()
		// In this process only the late party can park on the phase: the
		// last party runs this action, the first waits in the child.
		for !parkedOn(phase) {
			if len(late) != 0 {
				lateReturned = true
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			runtime.Gosched() // polling a condition, not synchronising on time
		}
		return nil
	})
	idx, err := b.WaitContext(ctx)
	if lateReturned {
		r := <-late
		t.Fatalf("the party that arrived while the action ran returned before the release: index %d, %v", r.idx, r.err)
	}
	if err != nil || idx != 1 {
		t.Fatalf("the last party of the first generation: index %d, %v", idx, err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("the child's party: %v", err)
	}
	// The late party now waits in the second generation; a fourth ends it.
	idx, err = b.WaitContext(ctx)
	r := <-late
	if r.err != nil || err != nil || r.idx+idx != 1 {
		t.Fatalf("second generation: the late party %d, %v; the fourth %d, %v; want indices 0 and 1, no error", r.idx, r.err, idx, err)
	}
	if n := actions.Load(); n != 2 {
		t.Fatalf("the action ran %d times in 2 generations", n)
	}
	if got, want := phase.Load(), before+2*4; got != want {
		t.Fatalf("phase %#x, want %#x: two releases", got, want)
	}
}

// barrierActionStops waits on the barrier as its last party with an
// action that says so in word 0 and stops there, to be killed.
var barrierActionStops = process.Register("sem-barrier-action-stops", func(ctx context.Context, a barrierArgs) error {
	a.B.SetAction(func() error {
		a.F.signal(0, 1)
		select {}
	})
	_, err := a.B.WaitContext(ctx)
	return fmt.Errorf("it returned (%v): the action never ran", err)
})

// TestBarrierActionKilledWithLateArrival: a process killed while it runs
// the action, with a party of the generation waiting in another process
// and a party of the next generation waiting here (it arrived during the
// action), breaks the barrier for both: each gets ErrBroken at the
// liveness poll, neither waits for ever for a release that cannot come.
func TestBarrierActionKilledWithLateArrival(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	for range shmtest.Iterations(t, 1) {
		barrierActionKilledWithLateArrival(t)
	}
}

func barrierActionKilledWithLateArrival(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	phase := semaphore.BarrierPhase(b)
	first, err := barrierWaitWorker.Start(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Kill()
	until(t, "the first child's party waits", func() bool { return b.Waiting() == 1 || !first.Alive() })
	if !first.Alive() {
		t.Fatalf("the first child ended before it waited: %v", first.Wait())
	}
	runner, err := barrierActionStops.Start(ctx, barrierArgs{B: b, F: f})
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Wait()
	defer runner.Kill()
	f.await(t, 0, 1, recoverWithin)
	late := make(chan error, 1)
	go func() { late <- barrierWait(ctx, b) }()
	until(t, "the late party parks, or returns", func() bool { return parkedOn(phase) || len(late) != 0 })
	select {
	case err := <-late:
		t.Fatalf("the party that arrived while the action ran: %v, want it to wait", err)
	default:
	}
	if b.Broken() {
		t.Fatal("broken before the kill")
	}
	runner.Kill()
	runner.Wait()
	start := time.Now()
	err = <-late
	t.Logf("the late party: %v, %v after the kill", err, time.Since(start))
	if !errors.Is(err, semaphore.ErrBroken) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the late party beside an action killed: %v, want ErrBroken", err)
	}
	ferr := first.Wait()
	if ferr == nil || !strings.Contains(ferr.Error(), semaphore.ErrBroken.Error()) || strings.Contains(ferr.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("the first party beside an action killed: %v, want ErrBroken", ferr)
	}
	t.Logf("the first party: %v", ferr)
	if !strings.Contains(err.Error(), "died") && !strings.Contains(ferr.Error(), "died") {
		t.Fatalf("neither party's error names the death: %v; %v", err, ferr)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken")
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	again := make(chan error, 1)
	go func() { again <- barrierWait(ctx, b) }()
	if err := barrierWait(ctx, b); err != nil {
		t.Fatalf("Wait after the Reset: %v", err)
	}
	if err := <-again; err != nil {
		t.Fatalf("Wait after the Reset: %v", err)
	}
}

// TestBarrierCorruptCount: a count at or past the parties, a peer's stray
// write (no party runs an action), makes the next arrival break the
// barrier with an error matching ErrBroken and ErrCorrupt, at once rather
// than wait for a generation that no party will release.
func TestBarrierCorruptCount(t *testing.T) {
	for _, extra := range []uint32{0, 1} {
		t.Run(fmt.Sprintf("parties+%d", extra), func(t *testing.T) {
			b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), 3)
			if err != nil {
				t.Fatal(err)
			}
			semaphore.BarrierCount(b).Store(3 + extra)
			ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
			_, err = b.WaitContext(ctx)
			if !errors.Is(err, semaphore.ErrBroken) || !errors.Is(err, semaphore.ErrCorrupt) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Wait on a count of %d in 3 parties: %v, want ErrBroken and ErrCorrupt", 3+extra, err)
			}
			if !b.Broken() {
				t.Fatal("barrier not broken")
			}
		})
	}
}

// TestBarrierCorruptClosing: a closing word that shuts the current
// generation with no mover named in closer (garbage from a peer: a shut
// names its mover first) sent every arrival to wait for a move nobody
// would make, until its ctx ended; now the waiters' periodic check finds
// it and the arrival breaks the barrier, with ErrBroken and ErrCorrupt.
func TestBarrierCorruptClosing(t *testing.T) {
	b, err := semaphore.InitBarrier(make([]byte, semaphore.BarrierSize), 3)
	if err != nil {
		t.Fatal(err)
	}
	closing, closer := semaphore.BarrierClosing(b)
	closer.Store(0)
	closing.Store(semaphore.BarrierPhase(b).Load() + 1)
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	_, err = b.WaitContext(ctx)
	if !errors.Is(err, semaphore.ErrBroken) || !errors.Is(err, semaphore.ErrCorrupt) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a generation shut by nobody: %v, want ErrBroken and ErrCorrupt", err)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken")
	}
}

// TestBarrierArrivalGivingUpDuringActionBreaksNothing: a party that
// arrives while the last party runs the action waits for the next
// generation, and if its ctx ends meanwhile it never arrived: it returns
// ctx's error and breaks nothing. It broke the generation whose parties had
// all arrived, and each of them got ErrBroken, a false alarm (Python's
// arrival cannot give up there: it waits for the lock the action holds).
func TestBarrierArrivalGivingUpDuringActionBreaksNothing(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	b, err := semaphore.NewBarrier(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	var lateErr error // what the late party's Wait returned, seen by the action
	b.SetAction(func() error {
		short, cancel := context.WithCancel(ctx)
		defer cancel()
		late := make(chan error, 1)
		go func() { _, err := b.WaitContext(short); late <- err }()
		// The late party waits behind the shut generation; its ctx ends
		// there.
		for !parkedOn(semaphore.BarrierPhase(b)) && len(late) == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			runtime.Gosched() // polling a condition, not synchronising on time
		}
		cancel()
		lateErr = <-late
		return nil
	})
	first := make(chan error, 1)
	go func() { _, err := b.WaitContext(ctx); first <- err }()
	until(t, "the first party waits", func() bool { return b.Waiting() == 1 })
	_, err = b.WaitContext(ctx)
	if !errors.Is(lateErr, context.Canceled) || errors.Is(lateErr, semaphore.ErrBroken) {
		t.Errorf("the party that gave up before it could arrive: %v, want context.Canceled alone", lateErr)
	}
	if err != nil {
		t.Fatalf("the last party, whose action saw a late party give up: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first party: %v", err)
	}
	if b.Broken() {
		t.Fatal("the barrier is broken")
	}
}
