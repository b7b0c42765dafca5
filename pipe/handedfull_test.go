package pipe_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// drainAfterGo receives on Go first, then n messages on C.
type drainArgs struct {
	C, Go *pipe.Conn[string]
	N     int
}

var drainAfterGo = process.Register("pipe-drain-after-go", func(ctx context.Context, a drainArgs) error {
	defer a.C.Close()
	defer a.Go.Close()
	if _, err := a.Go.Recv(ctx); err != nil {
		return fmt.Errorf("go: %w", err)
	}
	for i := 0; i < a.N; i++ {
		if _, err := a.C.Recv(ctx); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
})

// TestSendToAHandedEndBeforeItsFirstRecv: an end this process received
// on, handed to a worker that has not received yet, is not closed: a
// Send that finds its ring full waits for the worker. The handoff gave
// the ring's consumer side back, and a producer waiting for room took a
// ring with no consumer, after it had one, for one whose consumer closed
// its end: the Send failed with ErrClosed.
func TestSendToAHandedEndBeforeItsFirstRecv(t *testing.T) {
	ctx := ctxT(t)
	c0, c1, err := pipe.New(pipe.Options[string]{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	g0, g1, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer g0.Close()
	if err := c0.Send(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Recv(ctx); err != nil { // c1's process is its ring's consumer now
		t.Fatal(err)
	}
	msg := strings.Repeat("x", 100)
	const n = 100 // 100 of 100 bytes do not fit 4 KiB
	p, err := drainAfterGo.Start(ctx, drainArgs{C: c1, Go: g1, N: n})
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	g1.Close()
	sent := 0
	for ; sent < n; sent++ {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := c0.Send(short, msg)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // full, and waiting for the worker: as it should
		}
		if err != nil {
			p.Kill()
			t.Fatalf("Send %d to the end handed to a worker that has not received yet: %v, want it to wait", sent, err)
		}
	}
	if sent == n {
		t.Fatalf("all %d messages fitted a 4 KiB ring", n)
	}
	if err := g0.Send(ctx, "go"); err != nil {
		t.Fatal(err)
	}
	for ; sent < n; sent++ {
		if err := c0.Send(ctx, msg); err != nil {
			t.Fatalf("Send %d once the worker receives: %v", sent, err)
		}
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}
