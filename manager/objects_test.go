package manager_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/semaphore"
)

func TestListOps(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		l := must[*manager.List[string]](t)(manager.NewList(ctx, m, "b", "c"))
		slice := func() []string { t.Helper(); return must[[]string](t)(l.Slice(ctx, 0, 1<<30)) }
		if n := must[int](t)(l.Append(ctx, "d")); n != 3 {
			t.Fatalf("Append: len %d", n)
		}
		if n := must[int](t)(l.Extend(ctx, "e", "f")); n != 5 {
			t.Fatalf("Extend: len %d", n)
		}
		if err := l.Insert(ctx, 0, "a"); err != nil {
			t.Fatal(err)
		}
		if err := l.Insert(ctx, 100, "z"); err != nil { // clamped to the end, as Python
			t.Fatal(err)
		}
		if got := slice(); !slices.Equal(got, []string{"a", "b", "c", "d", "e", "f", "z"}) {
			t.Fatalf("list = %v", got)
		}
		if i := must[int](t)(l.Index(ctx, "d")); i != 3 {
			t.Fatalf("Index(d) = %d", i)
		}
		if _, err := l.Index(ctx, "nope"); !errors.Is(err, manager.ErrNotFound) {
			t.Fatalf("Index(nope): %v", err)
		}
		if err := l.Remove(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if err := l.Remove(ctx, "c"); !errors.Is(err, manager.ErrNotFound) {
			t.Fatalf("second Remove: %v", err)
		}
		if v := must[string](t)(l.Pop(ctx, -1)); v != "z" {
			t.Fatalf("Pop(-1) = %q", v)
		}
		if v := must[string](t)(l.Pop(ctx, 0)); v != "a" {
			t.Fatalf("Pop(0) = %q", v)
		}
		if v := must[string](t)(l.Get(ctx, -2)); v != "e" {
			t.Fatalf("Get(-2) = %q", v)
		}
		if _, err := l.Get(ctx, 4); !errors.Is(err, manager.ErrIndex) {
			t.Fatalf("Get(4): %v", err)
		}
		if err := l.Set(ctx, 1, "D"); err != nil {
			t.Fatal(err)
		}
		if err := l.Set(ctx, 9, "x"); !errors.Is(err, manager.ErrIndex) {
			t.Fatalf("Set(9): %v", err)
		}
		if ok := must[bool](t)(l.CompareAndSwap(ctx, 1, "D", "d")); !ok {
			t.Fatal("CAS failed")
		}
		if n := must[int](t)(l.Len(ctx)); n != 4 {
			t.Fatalf("Len = %d", n)
		}
		if got := must[[]string](t)(l.Slice(ctx, 1, -1)); !slices.Equal(got, []string{"d", "e"}) {
			t.Fatalf("Slice(1, -1) = %v", got)
		}
		var all []string
		for v, err := range l.All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, v)
		}
		if !slices.Equal(all, []string{"b", "d", "e", "f"}) {
			t.Fatalf("All = %v", all)
		}
		if _, err := l.Add(ctx, 0, "x"); !errors.Is(err, manager.ErrNotNumber) {
			t.Fatalf("Add on strings: %v", err)
		}

		nums := must[*manager.List[float64]](t)(manager.NewList(ctx, m, 1.5))
		if v := must[float64](t)(nums.Add(ctx, 0, 2)); v != 3.5 {
			t.Fatalf("Add = %v", v)
		}
		for range 3 {
			if _, err := nums.Pop(ctx, 0); err != nil {
				if !errors.Is(err, manager.ErrIndex) {
					t.Fatalf("Pop from empty: %v", err)
				}
			}
		}
		ints := must[*manager.List[[]int]](t)(manager.NewList(ctx, m, []int{1}))
		if v := must[[]int](t)(ints.Update(ctx, 0, appendInts.With(2))); !slices.Equal(v, []int{1, 2}) {
			t.Fatalf("Update = %v", v)
		}
	})
}

// TestListPages iterates over a List and a Dict larger than one reply.
func TestListPages(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		l := must[*manager.List[int]](t)(manager.NewList[int](ctx, m))
		d := must[*manager.Dict[int, []byte]](t)(manager.NewDict[int, []byte](ctx, m))
		const n = 3000
		big := make([]byte, 1000)
		for i := range n {
			if _, err := l.Append(ctx, i); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if err := d.Set(ctx, i, big); err != nil {
					t.Fatal(err)
				}
			}
		}
		i := 0
		for v, err := range l.All(ctx) {
			if err != nil || v != i {
				t.Fatalf("item %d = %d, %v", i, v, err)
			}
			i++
		}
		if i != n {
			t.Fatalf("%d items", i)
		}
		k := 0
		for it, err := range d.All(ctx) {
			if err != nil || it.Key != k || len(it.Value) != len(big) {
				t.Fatalf("item %d: %d (%d bytes), %v", k, it.Key, len(it.Value), err)
			}
			k += 10
		}
		if k != n {
			t.Fatalf("dict ended at %d", k)
		}
	})
}

func TestNamespace(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		ns := must[*manager.Namespace](t)(manager.NewNamespace(ctx, m))
		x := manager.AttrOf[int](ns, "x")
		y := manager.AttrOf[string](ns, "y")
		if _, ok, err := x.Get(ctx); err != nil || ok {
			t.Fatalf("unset Get: %v %v", ok, err)
		}
		if err := x.Set(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := y.Set(ctx, "why"); err != nil {
			t.Fatal(err)
		}
		if v := must[int](t)(x.Add(ctx, 41)); v != 42 {
			t.Fatalf("Add = %d", v)
		}
		if ok := must[bool](t)(x.CompareAndSwap(ctx, 42, 43)); !ok {
			t.Fatal("CAS failed")
		}
		if _, _, err := manager.AttrOf[string](ns, "x").Get(ctx); !errors.Is(err, manager.ErrType) {
			t.Fatalf("x read as a string: %v", err)
		}
		if _, err := manager.AttrOf[float64](ns, "x").Add(ctx, 1); !errors.Is(err, manager.ErrNotNumber) {
			t.Fatalf("int x added a float: %v", err)
		}
		lst := manager.AttrOf[[]int](ns, "lst")
		if v := must[[]int](t)(lst.Update(ctx, appendInts.With(7))); !slices.Equal(v, []int{7}) {
			t.Fatalf("Update = %v", v)
		}
		var names []string
		for n, err := range ns.Names(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if !slices.Equal(names, []string{"lst", "x", "y"}) {
			t.Fatalf("Names = %v", names)
		}
		if ok := must[bool](t)(ns.Delete(ctx, "y")); !ok {
			t.Fatal("Delete(y) false")
		}
		if _, ok, _ := y.Get(ctx); ok {
			t.Fatal("y still set")
		}
	})
}

var (
	failing = manager.RegisterUpdate("test.failing", func(old int, ok bool, _ struct{}) (int, error) {
		return 0, errors.New("refused")
	})
	notServed = &manager.UpdateFunc[int, int]{}
	panicking = manager.RegisterUpdate("test.panicking", func(old int, ok bool, _ struct{}) (int, error) {
		panic("boom")
	})
)

func TestUpdatesAndMethods(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[string, int]](t)(manager.NewDict[string, int](ctx, m))
		if err := d.Set(ctx, "a", 1); err != nil {
			t.Fatal(err)
		}
		_, err := d.Update(ctx, "a", failing.With(struct{}{}))
		var ue *manager.UpdateError
		if !errors.As(err, &ue) || ue.Name != "test.failing" || ue.Msg != "refused" {
			t.Fatalf("failing update: %v", err)
		}
		if v, _, _ := d.Get(ctx, "a"); v != 1 {
			t.Fatalf("a failed update stored %d", v)
		}
		if _, err := d.Update(ctx, "a", notServed.With(1)); !errors.As(err, &ue) {
			t.Fatalf("unregistered update: %v", err)
		}
		// A panic in the server is the caller's error; the server goes on.
		if _, err := d.Update(ctx, "a", panicking.With(struct{}{})); !errors.As(err, &ue) || ue.Msg != "panic: boom" {
			t.Fatalf("panicking update: %v", err)
		}
		if v, _, err := d.Get(ctx, "a"); err != nil || v != 1 {
			t.Fatalf("after a panic: %d, %v", v, err)
		}
		o := must[*manager.Object[counter]](t)(counterType.New(ctx, m))
		if v := must[int](t)(counterIncr.Call(ctx, o, 5)); v != 5 {
			t.Fatalf("incr = %d", v)
		}
		if err := m.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNative(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		lock := must[*semaphore.Mutex](t)(m.Lock())
		if ok, err := lock.TryLock(); !ok || err != nil {
			t.Fatalf("a new lock: %v %v", ok, err)
		}
		if ok, _ := lock.TryLock(); ok {
			t.Fatal("a held lock taken twice")
		}
		lock.Unlock()
		ev, err := m.Event()
		if err != nil {
			t.Fatal(err)
		}
		ev.Set()
		if !ev.IsSet() {
			t.Fatal("event not set")
		}
		s, err := m.Semaphore(2)
		if err != nil {
			t.Fatal(err)
		}
		if !s.TryAcquire(2) || s.TryAcquire(1) {
			t.Fatal("semaphore of 2")
		}
		v, err := manager.NewValue(m, int64(7))
		if err != nil {
			t.Fatal(err)
		}
		if v.Load() != 7 {
			t.Fatal("value")
		}
	})
}

// TestShutdown: calls after Shutdown fail with ErrClosed.
func TestShutdown(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[int, int]](t)(manager.NewDict[int, int](ctx, m))
		if err := m.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if err := d.Set(ctx, 1, 1); !errors.Is(err, manager.ErrClosed) {
			t.Fatalf("Set after Shutdown: %v", err)
		}
	})
}

// TestLimits: a value larger than a message fails with ErrTooLarge, a
// call whose context ends fails with its error, and the proxy goes on
// working after both.
func TestLimits(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		d := must[*manager.Dict[int, []byte]](t)(manager.NewDict[int, []byte](ctx, m))
		if err := d.Set(ctx, 1, make([]byte, manager.MaxMessage+1)); !errors.Is(err, manager.ErrTooLarge) {
			t.Fatalf("huge Set: %v", err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := d.Set(done, 1, []byte("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Set with a cancelled context: %v", err)
		}
		if err := d.Set(ctx, 2, []byte("y")); err != nil {
			t.Fatal(err)
		}
		if n := must[int](t)(d.Len(ctx)); n != 1 {
			t.Fatalf("Len = %d", n)
		}
	})
}

// TestAttrOfAnotherType: an attribute read as another type than it was
// set as gives ErrType, whichever codecs the two types travel through
// (a number's tag, gob, fixed-size binary, strings).
func TestAttrOfAnotherType(t *testing.T) {
	managers(t, func(t *testing.T, ctx context.Context, m *manager.Manager) {
		ns := must[*manager.Namespace](t)(manager.NewNamespace(ctx, m))
		if err := manager.AttrOf[string](ns, "s").Set(ctx, "why"); err != nil {
			t.Fatal(err)
		}
		if err := manager.AttrOf[[]int](ns, "l").Set(ctx, []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := manager.AttrOf[[]int](ns, "s").Get(ctx); !errors.Is(err, manager.ErrType) {
			t.Errorf("a string read as []int (gob): %v, want ErrType", err)
		}
		if _, _, err := manager.AttrOf[[2]int64](ns, "s").Get(ctx); !errors.Is(err, manager.ErrType) {
			t.Errorf("a string read as [2]int64 (binary): %v, want ErrType", err)
		}
		if _, _, err := manager.AttrOf[int](ns, "l").Get(ctx); !errors.Is(err, manager.ErrType) {
			t.Errorf("a []int read as int: %v, want ErrType", err)
		}
	})
}
