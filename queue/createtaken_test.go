package queue_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

// TestCreateOverATakenNameLeavesNothing: Create over a name that one of
// the queue's objects would take (the queue's own, its ring's "<name>.r",
// or an arena's "<name>.m" and "<name>.d") fails with shm.ErrExist and
// places nothing in the segment. Objects are never freed: a ring made
// before the name was found taken stayed in the segment for good.
func TestCreateOverATakenNameLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		taken string
		arena bool // Options that give the queue an arena
	}{
		{"q", false},
		{"q.r", false},
		{"q", true},
		{"q.r", true},
		{"q.m", true},
		{"q.d", true},
	} {
		seg := shmtest.Segment(t, 64<<20)
		if _, err := seg.Alloc(c.taken, shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			t.Fatal(err)
		}
		o := queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1024}
		if c.arena {
			o.SlotSize, o.MaxMessage = 256, 1<<20
		}
		q, err := queue.Create(seg, "q", o)
		if err == nil {
			q.Close()
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

// TestCreateWithTheDirectoryFullLeavesNothing: a Create whose objects do
// not all fit in the segment's directory fails with shm.ErrNoSpace before
// it places any.
func TestCreateWithTheDirectoryFullLeavesNothing(t *testing.T) {
	seg := shmtest.Segment(t, 8<<20)
	free := seg.Info().DirCap - seg.Info().Objects
	for i := 0; i < free-1; i++ { // room for one object: the ring
		if _, err := seg.Alloc(string(rune('a'+i%26))+string(rune('a'+i/26)), shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			t.Fatal(err)
		}
	}
	before := len(seg.Objects())
	q, err := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 16})
	if err == nil {
		q.Close()
		t.Fatal("Create succeeded with room for one object in the directory")
	}
	if !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("%v, want shm.ErrNoSpace", err)
	}
	if n := len(seg.Objects()); n != before {
		t.Fatalf("the failed Create left %d objects in the segment", n-before)
	}
}
