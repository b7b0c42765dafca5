package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestStaleClaimOnlyZeroHeaderIsCorrupt: an MPSC record header below the
// tail reads 0, and the only claim over it is one that no CAS can have
// won: a slot with no live owner whose claim runs past the tail (a peer
// overwrote the header and the claim words). The winner of the space,
// whoever it was, holds a claim that ends at or below the tail until its
// header is written; with none there the record never comes, as with no
// claim at all (TestUncoveredZeroHeaderIsCorrupt). Read must report
// ErrCorrupt, not wait at every poll for ever.
func TestStaleClaimOnlyZeroHeaderIsCorrupt(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := NewMPSC(seg, "r", 4096, WithPoll(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()
	for _, m := range []string{"a", "b"} {
		if err := p.Write(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	head, tail := c.vring.head.Load(), c.vring.tail.Load()
	free := -1
	for i := 0; i < c.vring.slots.n; i++ {
		if c.vring.slots.owner(i).Load() == 0 {
			free = i
		}
	}
	if free < 0 {
		t.Fatal("no free producer slot")
	}
	// A free slot's claim from the head to past the tail, and the header
	// of "a", at the head, zeroed.
	c.vring.slots.word(free, slotOffClaimPos).Store(head)
	c.vring.slots.word(free, slotOffClaimEnd).Store(tail + 64)
	c.vring.hdr(head & c.vring.mask).Store(0)
	// 300 poll periods: a Read that has not answered by then waits for
	// ever.
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	buf := make([]byte, 8)
	n, err := c.Read(rctx, buf)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read over a zero header that only an unwinnable claim covers = %q, %v; want ErrCorrupt", buf[:n], err)
	}
}
