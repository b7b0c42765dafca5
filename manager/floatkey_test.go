package manager_test

import (
	"context"
	"math"
	"testing"

	"github.com/shmkit/shmkit/manager"
)

// TestFloatKeyZero: 0.0 and -0.0 are equal, and are one key of a Python
// dict ({0.0: 1, -0.0: 2} is {0.0: 2}) as of a Go map: a Set of either
// replaces the other's value, Len counts one key, and Map agrees with Len.
func TestFloatKeyZero(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[float64, string]](t)(manager.NewDict[float64, string](ctx, m))
		negZero := math.Copysign(0, -1)
		if err := d.Set(ctx, 0, "pos"); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := d.Get(ctx, negZero); err != nil || !ok || v != "pos" {
			t.Errorf("Get(-0) after Set(0, pos) = %q, %v, %v; want pos", v, ok, err)
		}
		if err := d.Set(ctx, negZero, "neg"); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := d.Get(ctx, 0); err != nil || !ok || v != "neg" {
			t.Errorf("Get(0) after Set(-0, neg) = %q, %v, %v; want neg", v, ok, err)
		}
		n := must[int](t)(d.Len(ctx))
		all := must[map[float64]string](t)(d.Map(ctx))
		if n != 1 || len(all) != 1 {
			t.Errorf("Len = %d, Map = %v; want one key", n, all)
		}
	})
}
