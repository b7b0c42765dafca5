package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestUncoveredZeroHeaderIsCorrupt: an MPSC record header below the tail
// reads 0 while no claim a producer can have won covers it (a peer
// overwrote it). Every claim is stored before the tail's CAS and kept
// until its header is written, and the winner's ends at or below the tail
// the consumer read: so that is corrupt memory, not a record still coming.
// Read must report ErrCorrupt, not wait at every poll for a producer that
// will never write it: with no claim over it at all ("uncovered"), and
// with only a claim that no CAS can have won there, a free slot's from the
// head to past the tail ("stale claim only").
func TestUncoveredZeroHeaderIsCorrupt(t *testing.T) {
	for _, stale := range []bool{false, true} {
		name := "uncovered"
		if stale {
			name = "stale claim only"
		}
		t.Run(name, func(t *testing.T) { testUncoveredZeroHeader(t, stale) })
	}
}

func testUncoveredZeroHeader(t *testing.T, staleClaim bool) {
	c, p := mpscPair(t, 4096, WithPoll(10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()
	for _, m := range []string{"a", "b"} {
		if err := p.Write(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// The producer's claim words now cover "b" only.
	head, tail := c.vring.head.Load(), c.vring.tail.Load()
	if staleClaim {
		free := -1
		for i := 0; i < c.vring.slots.n; i++ {
			if c.vring.slots.owner(i).Load() == 0 {
				free = i
			}
		}
		if free < 0 {
			t.Fatal("no free producer slot")
		}
		c.vring.slots.word(free, slotOffClaimPos).Store(head)
		c.vring.slots.word(free, slotOffClaimEnd).Store(tail + 64)
	}
	c.vring.hdr(head & c.vring.mask).Store(0) // the header of "a", at the head
	// 300 poll periods: a Read that has not answered by then waits for
	// ever.
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	buf := make([]byte, 8)
	n, err := c.Read(rctx, buf)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read over a zero header = %q, %v; want ErrCorrupt", buf[:n], err)
	}
}
