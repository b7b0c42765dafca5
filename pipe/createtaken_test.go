package pipe_test

import (
	"errors"
	"fmt"
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
// it had made before (objects are never freed). A name the pipe does not
// take (a OneWay pipe's "<name>.0") is no obstacle.
func TestCreateOverATakenNameLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		taken  string
		arena  bool
		oneWay bool
		fails  bool
	}{
		{"p", false, false, true},
		{"p.0", false, false, true},
		{"p.1", false, false, true},
		{"p", false, true, true},
		{"p.0", false, true, false},
		{"p", true, false, true},
		{"p.m", true, false, true},
		{"p.d", true, false, true},
	} {
		what := fmt.Sprintf("%s taken, arena %v, one-way %v", c.taken, c.arena, c.oneWay)
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
			if c.fails {
				t.Fatalf("%s: Create succeeded", what)
			}
			continue
		}
		if !c.fails {
			t.Fatalf("%s: %v", what, err)
		}
		shmtest.Refused(t, seg, what, err, shm.ErrExist, c.taken)
	}
}

// TestCreateWithoutRoomLeavesNothing: a Create whose objects do not all
// fit, in the segment's directory or in its bytes (the arena of 4 MiB
// messages in a segment of 1 MiB), fails with shm.ErrNoSpace before it
// places any.
func TestCreateWithoutRoomLeavesNothing(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		seg := shmtest.Segment(t, 8<<20)
		shmtest.FillDirectory(t, seg, 2) // room for the rings only
		before := len(seg.Objects())
		a, b, err := pipe.Create(seg, "p", pipe.Options[[]byte]{Capacity: 64 << 10})
		if err == nil {
			a.Close()
			b.Close()
			t.Fatal("Create succeeded with room for two objects in the directory")
		}
		if !errors.Is(err, shm.ErrNoSpace) {
			t.Fatalf("%v, want shm.ErrNoSpace", err)
		}
		if n := len(seg.Objects()); n != before {
			t.Fatalf("the failed Create left %d objects in the segment", n-before)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		seg := shmtest.Segment(t, 1<<20)
		a, b, err := pipe.Create(seg, "p", pipe.Options[[]byte]{Capacity: 64 << 10, MaxMessage: 4 << 20})
		if err == nil {
			a.Close()
			b.Close()
			t.Fatal("Create of a pipe with an arena of 16 MiB succeeded in a segment of 1 MiB")
		}
		shmtest.Refused(t, seg, "an arena of 16 MiB in 1 MiB", err, shm.ErrNoSpace)
	})
}

// TestPlacementsAreWhatCreatePlaces: the objects Create asks
// shm.Segment.CanAlloc room for are the ones it places, in order, with
// the same bodies.
func TestPlacementsAreWhatCreatePlaces(t *testing.T) {
	for _, o := range []pipe.Options[[]byte]{
		{},
		{OneWay: true, Capacity: 4096},
		{Capacity: 64 << 10, MaxMessage: 1 << 20}, // with an arena
	} {
		seg := shmtest.Segment(t, 64<<20)
		a, b, err := pipe.Create(seg, "p", o)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		b.Close()
		got := shmtest.Placed(seg)
		if want := pipe.Placements("p", o); !slices.Equal(got, want) {
			t.Fatalf("%+v: Create placed %v, asked room for %v", o, got, want)
		}
	}
}
