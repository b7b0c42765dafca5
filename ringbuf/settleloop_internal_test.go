package ringbuf

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestSettledConsumerDoesNotSpin: an MPSC consumer whose producers have
// all closed, facing a record it can neither read nor skip (a zeroed
// header below the tail that no producer's claim covers: corrupt memory),
// acts on the close once (its slow look), then waits for data or its poll,
// as it did before the settle: it must not find the close again at once,
// look, find nothing, and so on, a busy loop burning a core until its
// context ends. The check is the CPU time the process used over the wait
// (a second): a loop that gets even a quarter of a core on a loaded
// machine uses more than the bound; a waiter that sleeps uses a few
// milliseconds.
func TestSettledConsumerDoesNotSpin(t *testing.T) {
	c, p := ringPair(t, "mpsc", nil)
	for _, rec := range []string{"a", "b"} {
		if err := p.Write(context.Background(), []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.hdr(0).Store(0) // record "a": zeroed; the producer's claim words cover "b"
	readSleeps(t, c)
}

// readSleeps reads from c for a second and fails unless the read ends in
// ErrCorrupt or the context's end having used at most a quarter of that
// in CPU time: a consumer that looked in a loop would use more.
func readSleeps(t *testing.T, c *vring) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cpu0 := cpuTime(t)
	_, err := c.Read(ctx, make([]byte, 8))
	used := cpuTime(t) - cpu0
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read = %v, want ErrCorrupt or the context's end", err)
	}
	if used > 250*time.Millisecond {
		t.Fatalf("the consumer used %v of CPU in a 1 s wait (%v): it looked in a loop", used, err)
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestHeaderPastTailDoesNotSpin: an MPSC consumer that has caught up
// looks at the header at its head before the tail (see committedAt). A
// header there that looks committed while the tail has not moved past it
// (only corrupt memory holds one) must not count as data: a wait that
// took it for data would find nothing to read, look again at once, and
// so on, burning a core until its context ends. The check is the CPU time
// the process used over a one-second wait, as in
// TestSettledConsumerDoesNotSpin.
func TestHeaderPastTailDoesNotSpin(t *testing.T) {
	c, p := ringPair(t, "mpsc", nil)
	if err := p.Write(context.Background(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := c.Read(context.Background(), buf); err != nil {
		t.Fatal(err)
	}
	head := c.c.head
	if c.tail.Load() != head {
		t.Fatalf("tail %d, head %d: want an empty ring", c.tail.Load(), head)
	}
	c.hdr(head & c.mask).Store(makeHeader(recordHeaderSize+1, 0, recMessage, 0)) // a committed-looking record the tail does not cover
	readSleeps(t, c)
}
