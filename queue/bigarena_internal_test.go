package queue

import (
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestLargeQueuesWithAnArenaAreValid: a queue with an arena and more than
// 2^19 messages asks its arena for no more records than the arena can
// use (one per page at most) nor holds, so its geometry passes: New
// refused every queue of []byte with a MaxSize over 2^19 ("1048832
// records outside 1..1048576"), and Create one of small slots and larger
// messages out of line.
func TestLargeQueuesWithAnArenaAreValid(t *testing.T) {
	c := codec.Default[[]byte]()
	for _, k := range []struct {
		name string
		z    sizing
	}{
		{"New, MaxSize 2^19+1", sizeFor(c, Options[[]byte]{MaxSize: 1<<19 + 1}, true)},
		{"New, MaxSize 600000", sizeFor(c, Options[[]byte]{MaxSize: 600000}, true)},
		{"New, MaxSize 2^20", sizeFor(c, Options[[]byte]{MaxSize: 1 << 20}, true)},
		{"New, the largest MaxSize", sizeFor(c, Options[[]byte]{MaxSize: ringbuf.MaxCapacity}, true)},
		{"Create, MaxSize 2^20, SlotSize 16, MaxMessage 4096", sizeFor(c, Options[[]byte]{MaxSize: 1 << 20, SlotSize: 16, MaxMessage: 4096}, false)},
		{"Create, MaxMessage 2^36", sizeFor(c, Options[[]byte]{MaxSize: 1 << 20, MaxMessage: 1 << 36}, false)},
	} {
		if !k.z.arena {
			t.Fatalf("%s: no arena", k.name)
		}
		if err := k.z.check(); err != nil {
			t.Errorf("%s: %v", k.name, err)
		}
		pages := int((k.z.arenaBytes + arena.PageSize - 1) / arena.PageSize)
		if k.z.records > pages || k.z.records < min(pages, 1<<20, k.z.slots) {
			t.Errorf("%s: %d records for an arena of %d pages and a ring of %d slots", k.name, k.z.records, pages, k.z.slots)
		}
	}
}
