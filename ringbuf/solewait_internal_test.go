package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
)

// soleStopW becomes the producers' sole claimer of R and stops itself
// (SIGSTOP) inside its second Put's plain claim, between its look at the
// side and its store of the position, having said so in Flag.
var soleStopW = process.Register("ringbuf-sole-stop", func(ctx context.Context, a soleDieArgs) error {
	if !membarrier.Await() {
		return fmt.Errorf("membarrier refused in the child")
	}
	flag := atomics.MustUint32At(a.Flag.Bytes(), 0)
	soleWindowHook = func() {
		soleWindowHook = nil
		flag.Store(1)
		atomics.Wake(flag, -1)
		// To this thread: it stops on its way out of the call. Sent to
		// the process, the stop may be taken by another thread while
		// this one goes on to its store.
		runtime.LockOSThread()
		unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSTOP)
	}
	for i := 0; i < 2; i++ { // the first claim makes it the sole claimer; the second is plain
		if err := a.R.Put(ctx, []byte{byte(i)}); err != nil {
			return err
		}
	}
	select {}
})

// TestSoleJoinHonoursItsCallersEnd: a second producer joining a side
// whose sole claimer is within a claim (its claim word the position + 1)
// waits for that claim to end; the claimer's process stopped there (or
// the word corrupt, the claimer idle), it ends only when that process
// goes on, or never. The joiner's Put must still return at its context's
// end, its TryPut at once (nothing put), and its Close must end a Put
// waiting there: the join ignored all three, holding the handle's lock,
// so that Close waited for it too.
func TestSoleJoinHonoursItsCallersEnd(t *testing.T) {
	skipNoSole(t)
	t.Run("stopped", func(t *testing.T) {
		seg, p := soleRing(t, 64)
		flag := shmtest.Segment(t, 64)
		ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
		defer cancel()
		child, err := soleStopW.Start(ctx, soleDieArgs{R: p, Flag: flag})
		if err != nil {
			t.Fatal(err)
		}
		defer child.Wait()
		defer child.Kill()
		fw := atomics.MustUint32At(flag.Bytes(), 0)
		for fw.Load() == 0 {
			if err := atomics.Await(ctx, fw, 0, nil); err != nil {
				t.Fatalf("the child did not stop inside its claim: %v", err)
			}
		}
		resume := func() { unix.Kill(child.Pid(), unix.SIGCONT) }
		joinerReturns(t, ctx, openSole(t, seg), resume)
		child.Kill()
		child.Wait()
		// The claimer gone, the side is the joiner's to share: its
		// message lands after the child's first, nothing lost.
		q := openSole(t, seg)
		if err := q.Put(ctx, []byte{7}); err != nil {
			t.Fatalf("Put once the stopped claimer was killed: %v", err)
		}
		buf := make([]byte, 8)
		for _, want := range []byte{0, 7} {
			if _, err := p.Get(ctx, buf); err != nil || buf[0] != want {
				t.Fatalf("Get: message %d, %v; want message %d", buf[0], err, want)
			}
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		seg, p := soleRing(t, 64)
		ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
		defer cancel()
		for i := 0; i < 2; i++ {
			if ok, err := p.TryPut([]byte{byte(i)}); !ok || err != nil {
				t.Fatalf("TryPut: %v, %v", ok, err)
			}
		}
		if !p.enqSole.own {
			t.Fatal("the producer is not the sole claimer")
		}
		claim := p.parts.word(p.part, partOffEnqClaim)
		claim.Store(p.enq.Load() + 1) // as if within a claim, while it is idle
		resume := func() { claim.Store(p.enq.Load()) }
		joinerReturns(t, ctx, openSole(t, seg), resume)
		resume()
	})
}

// joinerReturns has producer h join a side whose sole claimer stays
// within its claim: a Put with a short deadline, a TryPut, and a Put with
// no deadline that Close ends must all return. resume lets the claimer
// out, so that a joiner that did not return ends (and the test fails).
func joinerReturns(t *testing.T, ctx context.Context, h *MPMC, resume func()) {
	t.Helper()
	bound := shmtest.Timeout(t, 10*time.Second)
	ret := func(what string, call func() error, check func(error) bool) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !check(err) {
				t.Fatalf("%s of a joiner: %v", what, err)
			}
		case <-time.After(bound):
			resume()
			t.Fatalf("%s of a joiner still waits for a sole claimer within its claim after %v (it returned %v once the claimer was let out)", what, bound, <-done)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	ret("Put with a deadline", func() error { return h.Put(short, []byte{9}) }, func(err error) bool {
		return errors.Is(err, context.DeadlineExceeded)
	})
	ret("TryPut", func() error {
		ok, err := h.TryPut([]byte{9})
		if ok {
			return errors.New("put a message")
		}
		return err
	}, func(err error) bool { return err == nil })
	ret("Put ended by Close", func() error {
		errs := make(chan error, 1)
		go func() { errs <- h.Put(ctx, []byte{9}) }()
		// The Put waits holding the producer lock (taken through its
		// state word: other goroutines took it before).
		for h.putMu.state.Load() == 0 {
			runtime.Gosched()
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := h.Close(); err != nil {
			return err
		}
		return <-errs
	}, func(err error) bool { return errors.Is(err, ErrClosed) })
}
