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
