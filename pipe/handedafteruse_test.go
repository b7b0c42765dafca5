package pipe_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// echoOnce receives one message on its end, sends it back and closes.
var echoOnce = process.Register("pipe-echo-once", func(ctx context.Context, c *pipe.Conn[string]) error {
	defer c.Close()
	v, err := c.Recv(ctx)
	if err != nil {
		return fmt.Errorf("Recv: %w", err)
	}
	if err := c.Send(ctx, v); err != nil {
		return fmt.Errorf("Send: %w", err)
	}
	return nil
})

// TestEndUsedThenHandedToWorker: an end this process has sent and
// received on, then handed to a worker, is the worker's: the worker
// receives and sends on it while this process lives. Before, the rings
// still named this process as their producer and consumer, and the
// worker's Recv failed ("ring "pipe.0" already has a consumer").
func TestEndUsedThenHandedToWorker(t *testing.T) {
	ctx := ctxT(t)
	c0, c1, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	if err := c1.Send(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if err := c0.Send(ctx, "to c1"); err != nil {
		t.Fatal(err)
	}
	if v, err := c1.Recv(ctx); err != nil || v != "to c1" {
		t.Fatalf("c1.Recv = %q, %v", v, err)
	}
	p, err := echoOnce.Start(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	c1.Close() // this process's copy
	if v, err := c0.Recv(ctx); err != nil || v != "before" {
		t.Fatalf("Recv = %q, %v, want the message sent before the handoff", v, err)
	}
	if err := c0.Send(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	v, err := c0.Recv(ctx)
	werr := p.Wait()
	if err != nil || v != "echo" {
		t.Fatalf("Recv = %q, %v, want echo from the worker (worker: %v)", v, err, werr)
	}
	if werr != nil {
		t.Fatalf("worker: %v", werr)
	}
	if v, err := c0.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after the worker closed = %q, %v, want io.EOF", v, err)
	}
}
