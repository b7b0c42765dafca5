package ringbuf

import (
	"errors"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestMPMCLenWithinLimit: a ring held to WithLimit's bound never has more
// than that many slots between dequeue and enqueue (every claim checks
// it), so Len, read from positions a corrupt or hostile peer wrote, stays
// within the bound as it stays within the capacity of a ring without one:
// a queue's Len within its Cap (internal/corrupt checks both).
func TestMPMCLenWithinLimit(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPMC(seg, "r", 32, 8, WithLimit(8))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for ahead := range uint64(33) {
		r.enq.Store(r.deq.Load() + ahead) // corrupt: ahead slots claimed
		if n := r.Len(); n < 0 || n > 8 {
			t.Fatalf("enqueue %d past dequeue: Len %d, outside [0, 8]", ahead, n)
		}
		if err := r.sane(); ahead > 8 && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "limit")) {
			t.Fatalf("enqueue %d past dequeue: sane = %v, want the limit's ErrCorrupt", ahead, err)
		}
	}
	r.enq.Store(r.deq.Load())
}

// TestMPMCLimitHeldHighPositions: a producer handle is held to
// WithLimit's bound with positions past 2^63 (where a corrupt or hostile
// peer may put them; hasRoom counts them right, TestHasRoomAcrossOverflow):
// the dequeue position the handle keeps, zero before its first reading,
// must not let it past the bound, by TryPut nor by TryPutBatchFunc.
func TestMPMCLimitHeldHighPositions(t *testing.T) {
	for _, batch := range []bool{false, true} {
		r, q := mpmcPair(t, 16, []Option{WithLimit(13)})
		base := uint64(3) << 62
		emptyAt(r, base)
		fill := func() int {
			if batch {
				n, err := r.TryPutBatchFunc(16, func(int, []byte) int { return 1 })
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			n := 0
			for {
				ok, err := r.TryPut([]byte{1})
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return n
				}
				n++
			}
		}
		for lap := range 4 {
			want := 13 // the bound, then what 5 Gets gave back
			if lap > 0 {
				want = 5
			}
			if n := fill(); n != want {
				t.Fatalf("batch %v, lap %d, enqueue %#x: the producer put %d, want %d (limit 13)", batch, lap, r.enq.Load(), n, want)
			}
			takeMPMC(t, q, 5)
		}
		takeMPMC(t, q, 8)
		if r.Len() != 0 {
			t.Fatalf("batch %v: %d left", batch, r.Len())
		}
	}
}
