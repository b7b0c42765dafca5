package atomics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type cancelArgs struct {
	Seg     *shm.Segment
	NoWaitv bool   // behave as where futex_waitv is missing
	Bit     uint32 // then with this cancel bit (the parent's is another)
}

// canceller parks on word 0 (a waiter of the parent's object) with a
// context that it cancels 2 ms into each wait, again and again, until the
// parent sets word 2, after announcing itself in word 1: each cancel
// wakes every sleeper on word 0, in every process (Await turns a cancel
// into a FUTEX_WAKE of the word), and changes nothing they wait for.
var canceller = process.Register("atomics-test-canceller", func(ctx context.Context, a cancelArgs) error {
	if a.NoWaitv {
		atomics.NoWaitv(true)
		atomics.SetCancelBit(a.Bit)
	}
	w := atomics.MustUint32At(a.Seg.Bytes(), 0)
	started := atomics.MustUint32At(a.Seg.Bytes(), shm.CacheLine)
	stop := atomics.MustUint32At(a.Seg.Bytes(), 2*shm.CacheLine)
	for stop.Load() == 0 {
		c, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(2*time.Millisecond, cancel)
		started.Store(1)
		atomics.Wake(started, -1)
		atomics.Await(c, w, 0, &atomics.WaitOptions{Spin: -1})
		t.Stop()
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
})

// TestAwaitCheckDespiteSpuriousWakes: a parked Await runs its Check once
// its poll period has passed, however often another process's cancelled
// wait on the same word ends. That process cancels its own wait every
// 2 ms; the Check (a lock's dead-holder check, a ring's rescue) must still
// run 20 ms in, and its error end the wait: with futex_waitv, and without
// it (Linux before 5.16: Ubuntu 22.04, RHEL 9), where a cancel that woke
// the word woke every sleeper on it, in every process.
func TestAwaitCheckDespiteSpuriousWakes(t *testing.T) {
	t.Run("waitv", func(t *testing.T) {
		if !atomics.HaveWaitv() {
			t.Skip("no futex_waitv here (Linux 5.16+)")
		}
		testAwaitCheckDespiteSpuriousWakes(t, false)
	})
	t.Run("no-waitv", func(t *testing.T) {
		defer atomics.NoWaitv(atomics.NoWaitv(true)) // this process too, with a bit of its own
		defer atomics.SetCancelBit(atomics.SetCancelBit(1 << 1))
		testAwaitCheckDespiteSpuriousWakes(t, true)
	})
}

func testAwaitCheckDespiteSpuriousWakes(t *testing.T, noWaitv bool) {
	s, ws := sharedWords(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := canceller.Start(ctx, cancelArgs{Seg: s, NoWaitv: noWaitv, Bit: 1 << 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ws[2].Store(1)
		if err := p.Wait(); err != nil {
			t.Error(err)
		}
	}()
	for ws[1].Load() == 0 {
		if err := atomics.Await(ctx, ws[1], 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	gone := errors.New("the holder is dead")
	const poll = 20 * time.Millisecond
	// 3 s bounds a wait that never checks. A cancel, not a deadline: a
	// deadline shortens the last sleep to what is left of it, which ends
	// in a Check.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	time.AfterFunc(3*time.Second, wcancel)
	t0 := time.Now()
	var werr error
	for werr == nil { // Await may return early: callers loop
		werr = atomics.Await(wctx, ws[0], 0, &atomics.WaitOptions{Spin: -1, Poll: poll, Check: func() error { return gone }})
	}
	if werr != gone {
		t.Fatalf("Await = %v after %v; want its Check's error, due every %v", werr, time.Since(t0).Round(time.Millisecond), poll)
	}
}
