package ringbuf_test

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestMPMCLimitHeld: a producer handle is held at WithLimit's bound and
// let past it by exactly as many slots as the consumers have emptied,
// lap after lap, by TryPut and by TryPutBatchFunc. The producer keeps the
// dequeue position it last read and reads it again only at the bound: a
// stale one must not let it past the bound, nor hold it short of it.
func TestMPMCLimitHeld(t *testing.T) {
	const capacity, limit = 16, 5
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "q", capacity, 8, ringbuf.WithLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := ringbuf.OpenMPMC(seg, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	next, want := byte(0), byte(0) // the next message put, and got
	fill := func(batch bool) int {
		if batch {
			n, err := p.TryPutBatchFunc(capacity, func(i int, slot []byte) int {
				slot[0] = next + byte(i)
				return 1
			})
			if err != nil {
				t.Fatal(err)
			}
			next += byte(n)
			return n
		}
		n := 0
		for {
			ok, err := p.TryPut([]byte{next})
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return n
			}
			next++
			n++
		}
	}
	if n := fill(false); n != limit {
		t.Fatalf("an empty ring took %d messages, its limit is %d", n, limit)
	}
	buf := make([]byte, 8)
	for round := 0; round < 8*capacity; round++ {
		k := 1 + round%limit
		for i := 0; i < k; i++ {
			n, ok, err := r.TryGet(buf)
			if err != nil || !ok || n != 1 || buf[0] != want {
				t.Fatalf("round %d: got %v %v %v %d, want message %d", round, buf[:n], ok, err, n, want)
			}
			want++
		}
		if n := fill(round%2 == 1); n != k {
			t.Fatalf("round %d: %d emptied slots let the producer put %d (limit %d, held %d)", round, k, n, limit, r.Len())
		}
		if got := r.Len(); got != limit {
			t.Fatalf("round %d: ring holds %d, its limit is %d", round, got, limit)
		}
	}
}
