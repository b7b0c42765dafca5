package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestUncoveredZeroHeaderIsCorrupt: an MPSC record header below the tail
// reads 0 while no producer's claim covers it (a peer overwrote it). Every
// claim is stored before the tail's CAS and kept until its header is
// written, so that is corrupt memory, not a record still coming: Read must
// report ErrCorrupt, not wait at every poll for a producer that will never
// write it.
func TestUncoveredZeroHeaderIsCorrupt(t *testing.T) {
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
	// The producer's claim words now cover "b" only: zero the header of
	// "a", at the consumer's head.
	c.vring.hdr(c.vring.head.Load() & c.vring.mask).Store(0)
	buf := make([]byte, 8)
	n, err := c.Read(ctx, buf)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read over an uncovered zero header = %q, %v; want ErrCorrupt", buf[:n], err)
	}
}
