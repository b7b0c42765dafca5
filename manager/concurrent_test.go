package manager_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
)

// TestGoroutines: goroutines of one process share proxies (each call on a
// transport of its own from the client's pool): atomic adds from all of
// them sum exactly, appends all land, batches and reads interleave, and
// no call sees another's reply.
func TestGoroutines(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[int, int64]](t)(manager.NewDict[int, int64](ctx, m))
		l := must[*manager.List[int]](t)(manager.NewList[int](ctx, m))
		const workers = 8
		n := shmtest.Iterations(t, 300)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					if _, err := d.Add(ctx, -1, 1); err != nil {
						t.Errorf("Add: %v", err)
						return
					}
					if _, err := l.Append(ctx, g); err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					// A key of this goroutine's own, set and read back.
					k := g*n + i
					if err := d.SetMany(ctx, map[int]int64{k: int64(k)}); err != nil {
						t.Errorf("SetMany: %v", err)
						return
					}
					if v, ok, err := d.Get(ctx, k); err != nil || !ok || v != int64(k) {
						t.Errorf("Get(%d) = %d, %v, %v: another call's reply?", k, v, ok, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if v, _, err := d.Get(ctx, -1); err != nil || v != int64(workers*n) {
			t.Fatalf("sum of adds = %d, %v; want %d", v, err, workers*n)
		}
		if k := must[int](t)(l.Len(ctx)); k != workers*n {
			t.Fatalf("List Len = %d, want %d", k, workers*n)
		}
		if k := must[int](t)(d.Len(ctx)); k != workers*n+1 {
			t.Fatalf("Dict Len = %d, want %d", k, workers*n+1)
		}
	})
}
