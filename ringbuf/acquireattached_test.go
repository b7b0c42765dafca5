package ringbuf_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestAcquireConsumerAttachedShares: AcquireConsumer on a handle that is
// already the consumer (it has read) makes the ring's consumers take
// turns all the same, so that its ReleaseConsumer is a turn handed on, not
// the end of reading: a producer on the full ring then waits for the next
// consumer (here until its context ends) instead of failing with
// ErrClosed.
func TestAcquireConsumerAttachedShares(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewSPSC(seg, "r", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := ctxT(t, 10*time.Second)
	if err := r.Write(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	c, err := ringbuf.OpenSPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	if _, err := c.Read(ctx, buf); err != nil { // c attaches as the consumer
		t.Fatal(err)
	}
	if err := c.AcquireConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	for { // fill the ring
		ok, err := r.TryWrite([]byte("filler"))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	c.ReleaseConsumer()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := r.Write(wctx, []byte("more")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write on the full ring after its consumer handed its turn back: %v, want %v", err, context.DeadlineExceeded)
	}
	// The next consumer's turn makes room.
	c2, err := ringbuf.OpenSPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.AcquireConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Read(ctx, buf); err != nil || string(buf[:n]) != "filler" {
		t.Fatalf("Read by the next consumer: %q %v", buf[:n], err)
	}
	c2.ReleaseConsumer()
}
