package manager_test

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/manager"
)

// TestNarrowAdd: Add on a number narrower than 64 bits stores what Go's
// arithmetic on that type gives, the value that Get then reads: a
// CompareAndSwap of the value just read succeeds, as a retry loop of Get
// and CompareAndSwap needs. The server added at 64 bits and kept the
// wider sum (200 for an int8 that reads -56, a float64 sum of float32s),
// so such a loop never succeeded.
func TestNarrowAdd(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[string, int8]](t)(manager.NewDict[string, int8](ctx, m))
		must[int8](t)(d.Add(ctx, "k", 100))
		var want int8 = 100
		want += 100
		if sum := must[int8](t)(d.Add(ctx, "k", 100)); sum != want {
			t.Fatalf("int8 100 + 100 = %d, want %d", sum, want)
		}
		v, _, err := d.Get(ctx, "k")
		if err != nil || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, err, want)
		}
		if ok := must[bool](t)(d.CompareAndSwap(ctx, "k", v, 0)); !ok {
			t.Errorf("CompareAndSwap(%d, 0) of the int8 just read failed", v)
		}

		f := must[*manager.Dict[string, float32]](t)(manager.NewDict[string, float32](ctx, m))
		must[float32](t)(f.Add(ctx, "k", 0.1))
		must[float32](t)(f.Add(ctx, "k", 0.2))
		fv, _, err := f.Get(ctx, "k")
		if err != nil || fv != float32(0.1)+float32(0.2) {
			t.Fatalf("Get = %v, %v; want %v", fv, err, float32(0.1)+float32(0.2))
		}
		if ok := must[bool](t)(f.CompareAndSwap(ctx, "k", fv, 0)); !ok {
			t.Errorf("CompareAndSwap(%v, 0) of the float32 just read failed", fv)
		}
	})
}
