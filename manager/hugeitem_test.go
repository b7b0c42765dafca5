package manager_test

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/manager"
)

// TestHugeItemIterates: an item as large as a request can carry (a value
// 50 bytes short of MaxMessage) that Set stored and Get reads back must
// come out of an iteration too, a page of its own, and so must a List
// item that Append stored. A page took its first item only up to
// MaxMessage less a margin of some 90 bytes, so such an item made every
// iteration of its Dict or List fail with ErrTooLarge, for good.
func TestHugeItemIterates(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		huge := manager.MaxMessage - 50
		d := must[*manager.Dict[int, []byte]](t)(manager.NewDict[int, []byte](ctx, m))
		if err := d.Set(ctx, 1, make([]byte, huge)); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := d.Get(ctx, 1); err != nil || !ok || len(v) != huge {
			t.Fatalf("Get = %d bytes, %v, %v", len(v), ok, err)
		}
		if err := d.Set(ctx, 2, []byte("small")); err != nil {
			t.Fatal(err)
		}
		if all, err := d.Map(ctx); err != nil || len(all) != 2 || len(all[1]) != huge {
			t.Errorf("Map = %d items, %v; want both, the first of %d bytes", len(all), err, huge)
		}
		l := must[*manager.List[[]byte]](t)(manager.NewList[[]byte](ctx, m))
		if _, err := l.Append(ctx, make([]byte, huge)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, []byte("small")); err != nil {
			t.Fatal(err)
		}
		if all, err := l.Slice(ctx, 0, 10); err != nil || len(all) != 2 || len(all[0]) != huge {
			t.Errorf("Slice = %d items, %v; want both, the first of %d bytes", len(all), err, huge)
		}
	})
}
