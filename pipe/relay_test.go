package pipe_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// relayArgs carries end 1 of a pipe from worker to worker.
type relayArgs struct{ C *pipe.Conn[string] }

// relayFirst sends "a" on its end, hands the end on to a worker of its own
// (relayLast, detached: it outlives this one) and exits once that worker
// runs.
var relayFirst = process.Register("pipe-relay-first", func(ctx context.Context, a relayArgs) error {
	if err := a.C.Send(ctx, "a"); err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = relayLast.Start(ctx, a, process.Detached(), process.WithFiles(w))
	w.Close()
	if err != nil {
		return err
	}
	// Start sends the worker its arguments after it returns: exit once
	// the worker runs.
	if _, err := r.Read(make([]byte, 1)); err != nil {
		return err
	}
	return a.C.Close() // this process's copy only: relayLast holds the end
})

// relayLast tells relayFirst that it runs (a byte on process.File(0)),
// waits for the parent's "go", sends "b" and closes its end.
var relayLast = process.Register("pipe-relay-last", func(ctx context.Context, a relayArgs) error {
	defer a.C.Close()
	process.File(0).Write([]byte{1}) // running: relayFirst may exit
	if v, err := a.C.Recv(ctx); err != nil || v != "go" {
		return err
	}
	return a.C.Send(ctx, "b")
})

// TestRecvAfterSenderHandedEndOnAndExited: a worker that sent on its end,
// handed the end on to a worker of its own and exited is not the peer any
// more: a receive waiting while the new holder lives is no dead peer, and
// gets the new holder's message. Before, the receive's periodic check asked
// the ring, which still counted the first worker as its producer, found it
// dead and returned ErrPeerDead, though the end's holder was alive.
func TestRecvAfterSenderHandedEndOnAndExited(t *testing.T) {
	ctx := ctxT(t)
	c0, c1, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	p, err := relayFirst.Start(ctx, relayArgs{c1})
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	if v, err := c0.Recv(ctx); err != nil || v != "a" {
		t.Fatalf("Recv = %q, %v, want a", v, err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("the first worker: %v", err)
	}
	// The first worker is gone, the end's holder lives: a wait of a few
	// peer checks finds nothing, and no dead peer.
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	ok, err := c0.Poll(pctx)
	cancel()
	if ok || err != nil {
		t.Fatalf("Poll with the end's new holder alive and silent = %v, %v, want false, nil", ok, err)
	}
	if err := c0.Send(ctx, "go"); err != nil {
		t.Fatal(err)
	}
	if v, err := c0.Recv(ctx); err != nil || v != "b" {
		t.Fatalf("Recv = %q, %v, want b from the end's new holder", v, err)
	}
	if v, err := c0.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after the new holder closed = %q, %v, want io.EOF", v, err)
	}
}
