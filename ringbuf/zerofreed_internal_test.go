package ringbuf

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestMPSCFreedSpaceIsZero: every byte an MPSC consumer frees reads 0
// once it has published its head, whether it frees a record at a time
// (Read: through the cache) or a quarter of the ring and more at once
// (ReadBatch: around the caches, see mpscAroundMin), across the wrap and
// for several laps. A producer's claimed but unwritten header must read
// 0 (zeroRange); a byte left from the last lap could look like a
// committed header.
func TestMPSCFreedSpaceIsZero(t *testing.T) {
	const capacity = 1 << 14
	c, p := mpscPair(t, capacity)
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, time.Minute))
	defer cancel()
	bufs := make([][]byte, 48)
	for i := range bufs {
		bufs[i] = bytes.Repeat([]byte{0xff}, 1+(i*37)%200) // no zero byte: a byte not cleared shows
	}
	buf := make([]byte, 256)
	sent, got := 0, 0
	for lap := 0; lap < 24; lap++ { // about 15 times round the ring
		// Fill at least half the ring, in runs.
		for used := 0; used < capacity/2; {
			n, err := p.WriteBatch(ctx, bufs)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bufs[:n] {
				used += alignUp(recordHeaderSize+len(b), recordAlign)
			}
			sent += n
		}
		if lap%2 == 0 { // free it record by record
			for got < sent {
				if _, err := c.Read(ctx, buf); err != nil {
					t.Fatal(err)
				}
				got++
			}
		} else { // free it in batches
			for got < sent {
				n, err := c.ReadBatch(ctx, func([]byte) bool { return true })
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
		}
		if h, tl := c.head.Load(), c.tail.Load(); h != tl {
			t.Fatalf("lap %d: head %d, tail %d after every record was read", lap, h, tl)
		}
		for i, b := range c.data {
			if b != 0 {
				t.Fatalf("lap %d (%s): byte %d of the ring is %#x after everything was read (head %d)", lap, map[bool]string{true: "Read", false: "ReadBatch"}[lap%2 == 0], i, b, c.head.Load())
			}
		}
	}
}
