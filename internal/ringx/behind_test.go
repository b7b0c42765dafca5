package ringx

import (
	"slices"
	"testing"
	"time"
)

// queued is a ring with n messages queued that gains grow at every look
// for a run, recording the looks.
type queued struct {
	n, grow int
	looks   []int
}

func (q *queued) HasDataAt(n int) bool {
	q.looks = append(q.looks, n)
	if n == BehindRun {
		q.n += q.grow
	}
	return q.n >= n
}

func (q *queued) HasData() bool { return q.HasDataAt(1) }

// dueAt takes BehindEvery times as a consumer does (Tick, then Look
// where Tick says so) on q, checking that the takes before the last
// looked at nothing and said no; it reports the last take's answer and
// its looks.
func dueAt(t *testing.T, q *queued, bound int) (bool, []int) {
	t.Helper()
	var b Behind
	for i := 1; i < BehindEvery; i++ {
		if b.Tick() && Look(q, bound) {
			t.Fatalf("call %d due", i)
		}
	}
	if len(q.looks) != 0 {
		t.Fatalf("calls 1 to %d looked at the ring: %v", BehindEvery-1, q.looks)
	}
	due := b.Tick() && Look(q, bound)
	return due, q.looks
}

// TestBehind: once every BehindEvery takes, a consumer with at least
// BehindMin and fewer than BehindNear messages queued is due to wait for
// BehindRun; one with fewer or more, or on a ring bound to under 4 runs,
// is not. WaitRun looks for the run until it is queued or the window
// ends.
func TestBehind(t *testing.T) {
	for _, c := range []struct {
		name      string
		n, bound  int
		due       bool
		wantLooks []int
	}{
		{"close behind", 20, 4096, true, []int{BehindMin, BehindNear}},
		{"close behind, the least bound", 20, 4 * BehindRun, true, []int{BehindMin, BehindNear}},
		{"a few queued", BehindMin - 1, 4096, false, []int{BehindMin}},
		{"far enough behind", BehindNear, 4096, false, []int{BehindMin, BehindNear}},
		{"a small ring", 20, 4*BehindRun - 1, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			due, looks := dueAt(t, &queued{n: c.n}, c.bound)
			if due != c.due || !slices.Equal(looks, c.wantLooks) {
				t.Fatalf("due %v with looks %v, want %v with %v", due, looks, c.due, c.wantLooks)
			}
		})
	}
	t.Run("the run comes", func(t *testing.T) {
		q := &queued{n: 20, grow: BehindRun}
		WaitRun(q)
		if !slices.Equal(q.looks, []int{BehindRun}) {
			t.Fatalf("looks %v, want one for the run", q.looks)
		}
	})
	t.Run("no run", func(t *testing.T) {
		q := &queued{n: 20}
		start := time.Now()
		WaitRun(q) // returns once the window ends
		if took := time.Since(start); took < BehindWindow {
			t.Fatalf("returned after %v with no run, before the window (%v) ended", took, BehindWindow)
		}
		if len(q.looks) < 2 || slices.ContainsFunc(q.looks, func(n int) bool { return n != BehindRun }) {
			t.Fatalf("looks %v, want the run's until the window ends", q.looks)
		}
	})
}
