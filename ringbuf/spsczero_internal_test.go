package ringbuf

import (
	"context"
	"fmt"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestSPSCSuccessorFinishesZeroing: an SPSC consumer that zeroes what it
// frees (records up to spscZeroMax) and dies inside publish, with zeroEnd
// stored and only part of the freed space zeroed, leaves a zeroed header
// at the published head; its successor finishes the zeroing and goes on
// from zeroEnd, neither reporting ErrCorrupt nor skipping or repeating a
// record. The death is placed by hand: the state is what a SIGKILL
// between the zeroing stores leaves.
func TestSPSCSuccessorFinishesZeroing(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	p, err := NewSPSC(seg, "r", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for i := range 10 {
		if err := p.Write(ctx, []byte(fmt.Sprintf("record %02d, forty bytes of payload..", i))); err != nil {
			t.Fatal(err)
		}
	}
	c1, err := OpenSPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := c1.Read(ctx, buf); err != nil || string(buf[:7+3]) != "record 00," {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	// Records 1..4 consumed inside a batch, the head not yet published,
	// then publish killed after zeroEnd and half of the zeroing.
	for range 4 {
		idx, a, ok := c1.fastNext()
		if !ok {
			t.Fatal("no record at the head")
		}
		_ = idx
		c1.c.head += a
	}
	if c1.c.recLen > spscZeroMax {
		t.Fatal("records too long to be zeroed")
	}
	from, to := c1.c.published, c1.c.head
	c1.zeroEnd.Store(to)
	c1.zeroRange(from, (to-from)/2)
	c1.consumer.Store(0) // gone (a dead holder reads the same to takeConsumer)
	if h := c1.head.Load(); h != from || *plain64(c1.data, from&c1.mask) != 0 {
		t.Fatalf("the kill's state: head %d, want %d with a zeroed header", h, from)
	}

	c2, err := OpenSPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for i := 5; i < 10; i++ {
		n, err := c2.Read(ctx, buf)
		if err != nil {
			t.Fatalf("successor's read of record %d: %v", i, err)
		}
		if want := fmt.Sprintf("record %02d,", i); string(buf[:len(want)]) != want {
			t.Fatalf("successor read %q, want record %d", buf[:n], i)
		}
	}
	if err := Sane(c2); err != nil {
		t.Fatal(err)
	}
}
