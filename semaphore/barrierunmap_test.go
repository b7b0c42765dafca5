package semaphore_test

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// TestBarrierReleaseRacesUnmap: every move of a Barrier's phase lets its
// waiters return from Wait: the last party's release (with or without an
// action), Reset, and a break (Abort, a party whose context ends, a
// failing action, a party found dead inside the barrier's lock). A waiter
// returns as soon as it sees the phase move, without the barrier's lock,
// so a goroutine of the same process may return from Wait, finish with the
// Barrier and unmap its memory before the mover's next instruction, as
// TestCondNotifyRacesUnmap does for Cond.Notify. The mover must touch
// nothing of the shared memory after that atomic but the futex wake, whose
// EFAULT it ignores: a party of another process parked in the generation
// must still get its result (at its poll: the wake went nowhere).
func TestBarrierReleaseRacesUnmap(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		parties int
		child   bool // a party of another process waits in the generation
		setup   func(t *testing.T, b *semaphore.Barrier)
		act     func(ctx context.Context, b *semaphore.Barrier) error // moves the phase
		want    func(err error) bool
		broken  bool // the child gets ErrBroken, not its release
	}{
		{name: "release", parties: 2, child: true,
			act:  barrierWait,
			want: func(err error) bool { return err == nil }},
		{name: "release-action", parties: 2, child: true,
			setup: func(t *testing.T, b *semaphore.Barrier) { b.SetAction(func() error { return nil }) },
			act:   barrierWait,
			want:  func(err error) bool { return err == nil }},
		{name: "reset", parties: 2, child: true, broken: true,
			act:  func(_ context.Context, b *semaphore.Barrier) error { return b.Reset() },
			want: func(err error) bool { return err == nil }},
		{name: "abort", parties: 2, child: true, broken: true,
			act:  func(_ context.Context, b *semaphore.Barrier) error { return b.Abort() },
			want: func(err error) bool { return err == nil }},
		{name: "action-fails", parties: 2, child: true, broken: true,
			setup: func(t *testing.T, b *semaphore.Barrier) { b.SetAction(func() error { return boom }) },
			act:   barrierWait,
			want:  func(err error) bool { return errors.Is(err, boom) && errors.Is(err, semaphore.ErrBroken) }},
		{name: "gives-up", parties: 3, child: true, broken: true,
			act: func(ctx context.Context, b *semaphore.Barrier) error {
				wctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go func() { // ends the party's wait once it is counted
					for b.Waiting() != 2 && wctx.Err() == nil {
						runtime.Gosched()
					}
					cancel()
				}()
				_, err := b.WaitContext(wctx)
				return err
			},
			want: func(err error) bool { return errors.Is(err, semaphore.ErrBroken) && errors.Is(err, context.Canceled) }},
		{name: "dead-in-lock", parties: 2, // no child: its poll would find the dead holder first
			setup: func(t *testing.T, b *semaphore.Barrier) {
				pid := deadPid(t)
				forgeHolder(semaphore.BarrierLock(b), pid, procinfo.Ident{Pid: int32(pid)}.Word())
			},
			act:  barrierWait,
			want: func(err error) bool { return errors.Is(err, semaphore.ErrBroken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			b, err := semaphore.CreateBarrier(seg, "b", tc.parties)
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
			var p *process.Process
			if tc.child {
				if p, err = barrierWaitWorker.Start(ctx, b); err != nil {
					t.Fatal(err)
				}
				defer p.Wait()
				defer p.Kill()
				until(t, "the child's party waits", func() bool { return b.Waiting() == 1 || !p.Alive() })
				if !p.Alive() {
					t.Fatalf("the child ended before it waited: %v", p.Wait())
				}
			}
			if tc.setup != nil {
				tc.setup(t, b)
			}
			phase := semaphore.BarrierPhase(b)
			before := phase.Load()
			var hooked atomic.Bool
			semaphore.SetBarrierPhaseHook(t, func() {
				if hooked.Swap(true) {
					t.Error("the hook ran twice: the phase moved twice")
					return
				}
				if phase.Load() == before {
					t.Error("the hook ran before the phase moved")
					return
				}
				if err := seg.Close(); err != nil { // what a party that saw it move may do
					t.Error(err)
				}
			})
			type result struct {
				err       error
				recovered any
			}
			done := make(chan result, 1)
			go func() {
				debug.SetPanicOnFault(true)
				var err error
				defer func() { done <- result{err, recover()} }()
				err = tc.act(ctx, b)
			}()
			r := <-done
			if r.recovered != nil {
				t.Fatalf("the move faulted or panicked when the Barrier's memory was unmapped after its atomic: %s", faulted(r.recovered))
			}
			if !hooked.Load() {
				t.Fatalf("the phase never moved (%v)", r.err)
			}
			if !tc.want(r.err) {
				t.Errorf("the mover's call returned %v", r.err)
			}
			if p != nil {
				err := p.Wait()
				if tc.broken && (err == nil || !strings.Contains(err.Error(), semaphore.ErrBroken.Error())) {
					t.Errorf("the child's party: %v, want ErrBroken", err)
				}
				if !tc.broken && err != nil {
					t.Errorf("the child's party: %v, want its release", err)
				}
			}
		})
	}
}

func barrierWait(ctx context.Context, b *semaphore.Barrier) error {
	_, err := b.WaitContext(ctx)
	return err
}
