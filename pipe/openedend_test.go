package pipe_test

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// openSendExit opens end 1 of the pipe "p" in the segment Seg, sends "x"
// and exits without closing it.
var openSendExit = process.Register("pipe-open-send-exit", func(ctx context.Context, a struct{ Seg string }) error {
	seg, err := shm.Open(a.Seg)
	if err != nil {
		return err
	}
	c, err := pipe.Open(seg, "p", 1, pipe.Options[string]{})
	if err != nil {
		return err
	}
	return c.Send(ctx, "x")
})

// TestRecvFromEndTakenAfterItsSenderExited: an end is its holder's, the
// process that took it last (Open). A process that sent on it and exited
// without closing it, after which this live process took the end, is no
// peer: a receive that waits does not give up. Before, the receive's
// periodic check asked the ring, which counted the exited process as its
// producer, and returned ErrPeerDead though the end's holder lived.
func TestRecvFromEndTakenAfterItsSenderExited(t *testing.T) {
	ctx := ctxT(t)
	seg := shmtest.Segment(t, 1<<20)
	c0, _, err := pipe.Create(seg, "p", pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := openSendExit.Run(ctx, struct{ Seg string }{seg.Name()}); err != nil {
		t.Fatalf("the first sender: %v", err)
	}
	if v, err := c0.Recv(ctx); err != nil || v != "x" {
		t.Fatalf("Recv = %q, %v, want x", v, err)
	}
	c1, err := pipe.Open(seg, "p", 1, pipe.Options[string]{}) // this process holds end 1 now
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	ok, err := c0.Poll(pctx)
	cancel()
	if ok || err != nil {
		t.Fatalf("Poll with the end's holder alive and silent = %v, %v, want false, nil", ok, err)
	}
	if err := c1.Send(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if v, err := c0.Recv(ctx); err != nil || v != "y" {
		t.Fatalf("Recv = %q, %v, want y from the end's holder", v, err)
	}
}
