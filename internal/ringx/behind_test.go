package ringx

import "testing"

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

// keepAt calls Keep BehindEvery times on q and reports the looks of the
// last call, after checking that the ones before it looked at nothing.
func keepAt(t *testing.T, q *queued, bound int) []int {
	t.Helper()
	var b Behind
	for i := 1; i < BehindEvery; i++ {
		b.Keep(q, bound)
	}
	if len(q.looks) != 0 {
		t.Fatalf("calls 1 to %d looked at the ring: %v", BehindEvery-1, q.looks)
	}
	b.Keep(q, bound)
	return q.looks
}

// TestBehind: once every BehindEvery takes, a consumer with at least
// BehindMin and fewer than BehindNear messages queued waits for
// BehindRun (until they are queued, or the window ends); one with fewer
// or more, or on a ring bound to under 4 runs, goes on.
func TestBehind(t *testing.T) {
	t.Run("close behind, the run comes", func(t *testing.T) {
		q := &queued{n: 20, grow: BehindRun}
		looks := keepAt(t, q, 4096)
		if want := []int{BehindMin, BehindNear, BehindRun}; len(looks) != 3 || looks[0] != want[0] || looks[1] != want[1] || looks[2] != want[2] {
			t.Fatalf("looks %v, want %v", looks, want)
		}
	})
	t.Run("close behind, no run", func(t *testing.T) {
		q := &queued{n: 20}
		looks := keepAt(t, q, 4096)
		if len(looks) < 3 || looks[0] != BehindMin || looks[1] != BehindNear || looks[2] != BehindRun {
			t.Fatalf("looks %v, want %d, %d, then %d until the window ends", looks, BehindMin, BehindNear, BehindRun)
		}
	})
	for _, c := range []struct {
		name      string
		n, bound  int
		wantLooks []int
	}{
		{"a few queued", BehindMin - 1, 4096, []int{BehindMin}},
		{"far enough behind", BehindNear, 4096, []int{BehindMin, BehindNear}},
		{"a small ring", 20, 4*BehindRun - 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := &queued{n: c.n, grow: 1000}
			looks := keepAt(t, q, c.bound)
			if len(looks) != len(c.wantLooks) {
				t.Fatalf("looks %v, want %v", looks, c.wantLooks)
			}
			for i := range looks {
				if looks[i] != c.wantLooks[i] {
					t.Fatalf("looks %v, want %v", looks, c.wantLooks)
				}
			}
		})
	}
}
