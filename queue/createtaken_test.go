package queue_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// TestCreateOverATakenNameLeavesNothing: Create over a name that one of
// the queue's objects would take (the queue's own, its ring's "<name>.r",
// or an arena's "<name>.m" and "<name>.d") fails with shm.ErrExist and
// places nothing in the segment. Objects are never freed: a ring made
// before the name was found taken stayed in the segment for good. A name
// the queue does not take (an arena's, for a queue without one) is no
// obstacle.
func TestCreateOverATakenNameLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		taken string
		arena bool // Options that give the queue an arena
		fails bool
	}{
		{"q", false, true},
		{"q.r", false, true},
		{"q.m", false, false},
		{"q", true, true},
		{"q.r", true, true},
		{"q.m", true, true},
		{"q.d", true, true},
	} {
		what := fmt.Sprintf("%s taken, arena %v", c.taken, c.arena)
		seg := shmtest.Segment(t, 64<<20)
		if _, err := seg.Alloc(c.taken, shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			t.Fatal(err)
		}
		o := queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1024}
		if c.arena {
			o.SlotSize, o.MaxMessage = 256, 1<<20
		}
		q, err := queue.Create(seg, "q", o)
		if !c.fails {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			q.Close()
			continue
		}
		if err == nil {
			q.Close()
			t.Fatalf("%s: Create succeeded", what)
		}
		shmtest.Refused(t, seg, what, err, shm.ErrExist, c.taken)
	}
}

// TestCreateWithoutRoomLeavesNothing: a Create whose objects do not all
// fit (the segment's directory, or its bytes: here the arena of a queue
// of 8 MiB messages, in a segment of 1 MiB) fails with shm.ErrNoSpace
// before it places any. Before, it left the ring, the queue and the
// arena's first object, and a second Create under that name found its
// ring's name taken.
func TestCreateWithoutRoomLeavesNothing(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		seg := shmtest.Segment(t, 8<<20)
		shmtest.FillDirectory(t, seg, 1) // room for the ring only
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
	})
	t.Run("bytes", func(t *testing.T) {
		seg := shmtest.Segment(t, 1<<20)
		q, err := queue.Create(seg, "q", queue.Options[[]byte]{MaxSize: 16, SlotSize: 256, MaxMessage: 8 << 20})
		if err == nil {
			q.Close()
			t.Fatal("Create of a queue with an arena of 32 MiB succeeded in a segment of 1 MiB")
		}
		shmtest.Refused(t, seg, "an arena of 32 MiB in 1 MiB", err, shm.ErrNoSpace)
		q, err = queue.Create(seg, "q", queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1024})
		if err != nil {
			t.Fatalf("a queue that fits, under the same name: %v", err)
		}
		q.Close()
	})
}

// TestPlacementsAreWhatCreatePlaces: the objects Create asks
// shm.Segment.CanAlloc room for are the ones it places, in order, with
// the same bodies: a count too high would refuse a segment the queue fits
// in, one too low would let Create fail halfway again.
func TestPlacementsAreWhatCreatePlaces(t *testing.T) {
	check := func(t *testing.T, want []shm.Placement, create func(seg *shm.Segment) error) {
		t.Helper()
		seg := shmtest.Segment(t, 64<<20)
		if err := create(seg); err != nil {
			t.Fatal(err)
		}
		got := shmtest.Placed(seg)
		if !slices.Equal(got, want) {
			t.Fatalf("Create placed %v, asked room for %v", got, want)
		}
	}
	bytesOpts := []queue.Options[[]byte]{
		{},
		{MaxSize: 3, MaxMessage: 100},
		{MaxSize: 16, SlotSize: 256, MaxMessage: 1 << 20}, // with an arena
	}
	for _, o := range bytesOpts {
		check(t, queue.Placements("q", o), func(seg *shm.Segment) error {
			q, err := queue.Create(seg, "q", o)
			if err == nil {
				q.Close()
			}
			return err
		})
	}
	for _, o := range []queue.Options[[64]byte]{{}, {MaxSize: 1000}, {MaxSize: 7, SlotSize: 200}} {
		check(t, queue.Placements("q", o), func(seg *shm.Segment) error {
			q, err := queue.Create(seg, "q", o)
			if err == nil {
				q.Close()
			}
			return err
		})
	}
}

// TestCreateOfARingTooLargeLeavesNothing: a queue whose ring the ring
// would refuse (over its largest) is refused before anything is placed,
// with the ring's error (ringbuf.ErrInvalid) rather than the room's.
// (The arena's refusals, checked there too, can no longer be met: see
// TestLargeQueuesWithAnArenaAreValid.)
func TestCreateOfARingTooLargeLeavesNothing(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[[64]byte]{MaxSize: 1 << 30, SlotSize: 1 << 24})
	if err == nil {
		q.Close()
		t.Fatal("Create of a ring over 1 TiB succeeded")
	}
	shmtest.Refused(t, seg, "Create of a ring over 1 TiB", err, ringbuf.ErrInvalid)
}
