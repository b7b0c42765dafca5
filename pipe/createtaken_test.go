package pipe_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/shm"
)

// TestCreateOverATakenNameLeavesNothing: Create over a name that one of
// the pipe's objects would take (its own, its rings' "<name>.0" and
// "<name>.1", an arena's "<name>.m" and "<name>.d") fails with
// shm.ErrExist and places nothing in the segment, where it left the rings
// it had made before (objects are never freed).
func TestCreateOverATakenNameLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		taken  string
		arena  bool
		oneWay bool
	}{
		{"p", false, false},
		{"p.0", false, false},
		{"p.1", false, false},
		{"p", false, true},
		{"p", true, false},
		{"p.m", true, false},
		{"p.d", true, false},
	} {
		seg := shmtest.Segment(t, 64<<20)
		if _, err := seg.Alloc(c.taken, shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			t.Fatal(err)
		}
		o := pipe.Options[[]byte]{Capacity: 64 << 10, OneWay: c.oneWay}
		if c.arena {
			o.MaxMessage = 1 << 20
		}
		a, b, err := pipe.Create(seg, "p", o)
		if err == nil {
			a.Close()
			b.Close()
			t.Fatalf("%s taken, arena %v: Create succeeded", c.taken, c.arena)
		}
		if !errors.Is(err, shm.ErrExist) {
			t.Fatalf("%s taken, arena %v: %v, want shm.ErrExist", c.taken, c.arena, err)
		}
		var names []string
		for _, info := range seg.Objects() {
			names = append(names, info.Name)
		}
		if !slices.Equal(names, []string{c.taken}) {
			t.Fatalf("%s taken, arena %v: the segment holds %q after the failed Create, want only %q", c.taken, c.arena, names, c.taken)
		}
	}
}
