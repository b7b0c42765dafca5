package manager_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// shmEntries lists /dev/shm entries whose names a manager gives.
func shmEntries(t *testing.T) []string {
	t.Helper()
	es, err := os.ReadDir("/dev/shm")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("shmkit-manager-%d-", os.Getpid())) {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkNoLeftovers fails the test if a manager's listener of this process
// is left in /dev/shm once the test is over.
func checkNoLeftovers(t *testing.T) {
	t.Cleanup(func() {
		if left := shmEntries(t); len(left) > 0 {
			t.Errorf("left in /dev/shm: %v", left)
		}
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
	t.Cleanup(cancel)
	return ctx
}

// managers runs f against a server process and an in-process server.
func managers(t *testing.T, f func(t *testing.T, ctx context.Context, m *manager.Manager)) {
	for _, kind := range []string{"process", "inprocess"} {
		t.Run(kind, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx := testCtx(t)
			var m *manager.Manager
			var err error
			if kind == "process" {
				m, err = manager.Start(ctx)
			} else {
				m, err = manager.New()
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := m.Shutdown(); err != nil {
					t.Error(err)
				}
			}()
			f(t, ctx, m)
		})
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestDictOverwrite: a Set over a key replaces its value, whether the new
// value is as long as the old (written in place in the server) or not.
func TestDictOverwrite(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[int, string]](t)(manager.NewDict[int, string](ctx, m))
		for _, v := range []string{"abc", "xyz", "longer value", "", "q", "r", "abc"} {
			if err := d.Set(ctx, 1, v); err != nil {
				t.Fatal(err)
			}
			if err := d.Set(ctx, 2, "other"); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := d.Get(ctx, 1); err != nil || !ok || got != v {
				t.Fatalf("Get(1) after Set(1, %q) = %q, %v, %v", v, got, ok, err)
			}
			if got, _, _ := d.Get(ctx, 2); got != "other" {
				t.Fatalf("Get(2) = %q, want other", got)
			}
		}
		if n := must[int](t)(d.Len(ctx)); n != 2 {
			t.Fatalf("Len = %d, want 2", n)
		}
	})
}

func TestDictOps(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[int, string]](t)(manager.NewDict[int, string](ctx, m))
		for _, k := range []int{5, -3, 10, 0, 7} {
			if err := d.Set(ctx, k, fmt.Sprint("v", k)); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok, err := d.Get(ctx, -3); err != nil || !ok || v != "v-3" {
			t.Fatalf("Get(-3) = %q, %v, %v", v, ok, err)
		}
		if _, ok, err := d.Get(ctx, 4); err != nil || ok {
			t.Fatalf("Get(4) found %v, %v", ok, err)
		}
		if n := must[int](t)(d.Len(ctx)); n != 5 {
			t.Fatalf("Len = %d", n)
		}
		if ok := must[bool](t)(d.Contains(ctx, 7)); !ok {
			t.Fatal("Contains(7) false")
		}
		var keys []int
		for k, err := range d.Keys(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if !slices.Equal(keys, []int{-3, 0, 5, 7, 10}) {
			t.Fatalf("Keys = %v", keys)
		}
		var vals []string
		for v, err := range d.Values(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			vals = append(vals, v)
		}
		if !slices.Equal(vals, []string{"v-3", "v0", "v5", "v7", "v10"}) {
			t.Fatalf("Values = %v", vals)
		}
		var rng []int
		for it, err := range d.Range(ctx, 0, 7) {
			if err != nil {
				t.Fatal(err)
			}
			rng = append(rng, it.Key)
		}
		if !slices.Equal(rng, []int{0, 5}) {
			t.Fatalf("Range(0, 7) = %v", rng)
		}
		rng = rng[:0]
		for it, err := range d.From(ctx, 6) {
			if err != nil {
				t.Fatal(err)
			}
			rng = append(rng, it.Key)
		}
		if !slices.Equal(rng, []int{7, 10}) {
			t.Fatalf("From(6) = %v", rng)
		}
		if ok := must[bool](t)(d.Delete(ctx, 5)); !ok {
			t.Fatal("Delete(5) false")
		}
		if ok := must[bool](t)(d.Delete(ctx, 5)); ok {
			t.Fatal("second Delete(5) true")
		}
		if ok := must[bool](t)(d.CompareAndSwap(ctx, 7, "v7", "seven")); !ok {
			t.Fatal("CAS failed")
		}
		if ok := must[bool](t)(d.CompareAndSwap(ctx, 7, "v7", "x")); ok {
			t.Fatal("stale CAS succeeded")
		}
		if ok := must[bool](t)(d.SetIfAbsent(ctx, 7, "x")); ok {
			t.Fatal("SetIfAbsent over a present key")
		}
		if v := must[string](t)(d.SetDefault(ctx, 8, "eight")); v != "eight" {
			t.Fatalf("SetDefault = %q", v)
		}
		if v := must[string](t)(d.SetDefault(ctx, 8, "other")); v != "eight" {
			t.Fatalf("second SetDefault = %q", v)
		}
		if err := d.SetMany(ctx, map[int]string{1: "a", 2: "b"}); err != nil {
			t.Fatal(err)
		}
		got := must[map[int]string](t)(d.GetMany(ctx, 1, 2, 3, 7))
		if len(got) != 3 || got[1] != "a" || got[2] != "b" || got[7] != "seven" {
			t.Fatalf("GetMany = %v", got)
		}
		if _, err := d.Add(ctx, 1, "x"); !errors.Is(err, manager.ErrNotNumber) {
			t.Fatalf("Add on strings: %v", err)
		}
		all := must[map[int]string](t)(d.Map(ctx))
		if len(all) != 7 {
			t.Fatalf("Map = %v", all)
		}
		if err := d.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if n := must[int](t)(d.Len(ctx)); n != 0 {
			t.Fatalf("Len after Clear = %d", n)
		}
	})
}
