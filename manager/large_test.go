package manager_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
)

// Messages past the channel's ring: they go out of line through the pipe's
// arena, between real processes.

type largeArgs struct {
	D    *manager.Dict[int, []byte]
	Many *manager.Dict[int, int]
	L    *manager.List[int]
	N    int // keys of the SetMany, items of the Extend
}

// bigValue is a deterministic value of n bytes.
func bigValue(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>12)
	}
	return b
}

var largeWorker = process.Register("test.large", func(ctx context.Context, a largeArgs) error {
	if err := a.D.Set(ctx, 1, bigValue(10<<20)); err != nil {
		return fmt.Errorf("Set of 10 MB: %w", err)
	}
	items := make(map[int]int, a.N)
	for i := range a.N {
		items[i] = 2 * i
	}
	if err := a.Many.SetMany(ctx, items); err != nil {
		return fmt.Errorf("SetMany of %d keys: %w", a.N, err)
	}
	vs := make([]int, a.N)
	for i := range vs {
		vs[i] = i
	}
	if n, err := a.L.Extend(ctx, vs...); err != nil || n != a.N {
		return fmt.Errorf("Extend of %d: %d, %w", a.N, n, err)
	}
	return nil
})

// TestLargeMessages: a worker process sets a 10 MB value, a SetMany of
// 100,000 keys and an Extend of 100,000 items (each over the old 128 KiB
// limit, far over the channel's ring); the creator reads them back whole, a
// GetMany of every key in one reply, and the pages of an iteration; a
// request over MaxMessage still fails with ErrTooLarge, and the proxy goes
// on.
func TestLargeMessages(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		const n = 100000
		d := must[*manager.Dict[int, []byte]](t)(manager.NewDict[int, []byte](ctx, m))
		many := must[*manager.Dict[int, int]](t)(manager.NewDict[int, int](ctx, m))
		l := must[*manager.List[int]](t)(manager.NewList[int](ctx, m))
		p := must[*process.Process](t)(largeWorker.Start(ctx, largeArgs{D: d, Many: many, L: l, N: n}))
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		got, ok, err := d.Get(ctx, 1)
		if err != nil || !ok || !bytes.Equal(got, bigValue(10<<20)) {
			t.Fatalf("Get of the 10 MB value: %d bytes, %v, %v", len(got), ok, err)
		}
		for it, err := range d.All(ctx) { // a page of one item over the page size
			if err != nil || it.Key != 1 || len(it.Value) != 10<<20 {
				t.Fatalf("All over the 10 MB value: %d: %d bytes, %v", it.Key, len(it.Value), err)
			}
		}
		if k := must[int](t)(many.Len(ctx)); k != n {
			t.Fatalf("Len after SetMany = %d, want %d", k, n)
		}
		keys := make([]int, n)
		for i := range keys {
			keys[i] = i
		}
		vals, err := many.GetMany(ctx, keys...)
		if err != nil || len(vals) != n {
			t.Fatalf("GetMany of %d keys: %d, %v", n, len(vals), err)
		}
		for k, v := range vals {
			if v != 2*k {
				t.Fatalf("GetMany[%d] = %d, want %d", k, v, 2*k)
			}
		}
		i := 0
		for it, err := range many.All(ctx) {
			if err != nil || it.Key != i || it.Value != 2*i {
				t.Fatalf("All: item %d is %d: %d, %v", i, it.Key, it.Value, err)
			}
			i++
		}
		if i != n {
			t.Fatalf("All gave %d items, want %d", i, n)
		}
		if k := must[int](t)(l.Len(ctx)); k != n {
			t.Fatalf("List Len after Extend = %d, want %d", k, n)
		}
		if v := must[int](t)(l.Get(ctx, n-1)); v != n-1 {
			t.Fatalf("l[-1] = %d", v)
		}
		if err := d.Set(ctx, 2, make([]byte, manager.MaxMessage)); !errors.Is(err, manager.ErrTooLarge) {
			t.Fatalf("Set over MaxMessage: %v, want ErrTooLarge", err)
		}
		if err := d.Set(ctx, 3, []byte("small")); err != nil {
			t.Fatalf("Set after ErrTooLarge: %v", err)
		}
	})
}
