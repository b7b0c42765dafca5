package value_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

func TestCreateLoadStoreUpdate(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create(seg, "p", point{X: 1, Y: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Load(); got != (point{X: 1, Y: 2}) {
		t.Fatalf("Load = %v", got)
	}
	v.Store(point{X: 3})
	if got := v.Update(func(p *point) { p.Y = p.X + 1 }); got != (point{X: 3, Y: 4}) {
		t.Fatalf("Update returned %v", got)
	}
	w, err := value.Open[point](seg, "p")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Load(); got != (point{X: 3, Y: 4}) {
		t.Fatalf("Load through Open = %v", got)
	}
	if _, err := value.Create(seg, "p", point{}); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("second Create: %v, want ErrExist", err)
	}
	if _, err := value.Open[point](seg, "nothing"); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Open of a missing name: %v, want ErrNotExist", err)
	}
}

func TestUpdatePanicLeavesValue(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create(seg, "p", point{X: 1})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		v.Update(func(p *point) { p.X = 99; panic("boom") })
	}()
	if got := v.Load(); got.X != 1 {
		t.Fatalf("after a panicking Update, X = %v, want 1", got.X)
	}
	v.Store(point{X: 2}) // the lock was released: this does not hang
}

func TestAtomic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	type counter int64
	c, err := value.Create[counter](seg, "c", 5)
	if err != nil {
		t.Fatal(err)
	}
	u, err := value.Create[uint32](seg, "u", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := value.Add(c, -7); got != -2 {
		t.Fatalf("Add = %d, want -2", got)
	}
	if got := value.Add(u, ^uint32(0)); got != 0 {
		t.Fatalf("uint32 Add(-1) = %d, want 0", got)
	}
	if !value.CompareAndSwap(c, -2, 10) || value.CompareAndSwap(c, -2, 11) || c.Load() != 10 {
		t.Fatalf("CompareAndSwap: value %d", c.Load())
	}
	if old := value.Swap(u, 7); old != 0 || u.Load() != 7 {
		t.Fatalf("Swap: old %d new %d", old, u.Load())
	}

	// Update and Add together lose nothing.
	var wg sync.WaitGroup
	const n = 2000
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if g%2 == 0 {
					value.Add(c, 1)
				} else {
					c.Update(func(x *counter) { *x++ })
				}
			}
		}()
	}
	wg.Wait()
	if got := c.Load(); got != 10+4*n {
		t.Fatalf("after %d Adds and Updates: %d, want %d", 4*n, got, 10+4*n)
	}
}

func TestRefusals(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	type inner struct {
		N    int
		Name string
	}
	type outer struct {
		A  [2]int32
		In inner
	}
	check := func(err error, field string) {
		t.Helper()
		if !errors.Is(err, value.ErrUnsupportedType) || !strings.Contains(err.Error(), field) {
			t.Errorf("got %v, want ErrUnsupportedType naming %s", err, field)
		}
	}
	_, err := value.Create(seg, "a", outer{})
	check(err, "In.Name")
	_, err = value.Create(seg, "b", []int{})
	check(err, "slice")
	_, err = value.Create(seg, "c", map[int]int{})
	check(err, "map")
	_, err = value.Create[*int](seg, "d", nil)
	check(err, "ptr")
	_, err = value.CreateRaw(seg, "e", struct{ C chan int }{})
	check(err, ".C")
	_, err = value.Create[any](seg, "f", nil)
	check(err, "interface")
	_, err = value.Create(seg, "g", struct{ F func() }{})
	check(err, ".F")
	_, err = value.Open[string](seg, "a")
	check(err, "string")
	if objs := seg.Objects(); len(objs) != 0 {
		t.Fatalf("refused Creates left objects: %v", objs)
	}
}

func TestOpenMismatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	if _, err := value.Create[int64](seg, "i64", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := value.CreateRaw[int64](seg, "raw", 0); err != nil {
		t.Fatal(err)
	}
	type other struct{ X, Y float64 } // point's size, other layout
	for name, open := range map[string]func() error{
		"int32 over int64":  func() error { _, err := value.Open[int32](seg, "i64"); return err },
		"uint64 over int64": func() error { _, err := value.Open[uint64](seg, "i64"); return err },
		"raw over locked":   func() error { _, err := value.OpenRaw[int64](seg, "i64"); return err },
		"locked over raw":   func() error { _, err := value.Open[int64](seg, "raw"); return err },
		"struct over int64": func() error { _, err := value.Open[other](seg, "i64"); return err },
	} {
		if err := open(); !errors.Is(err, value.ErrIncompatible) {
			t.Errorf("%s: %v, want ErrIncompatible", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := value.Open[int64](seg, "i64"); err != nil {
		t.Fatal(err)
	}
}

func TestRaw(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := value.CreateRaw(seg, "r", point{X: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Ptr().Y = 5
	r2, err := value.OpenRaw[point](seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Load(); got != (point{X: 1, Y: 5}) {
		t.Fatalf("Load = %v", got)
	}
	r2.Store(point{})
	if r.Ptr().X != 0 {
		t.Fatal("Store not seen through the other RawValue")
	}
}

func TestGobMismatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create[int64](seg, "v", 3)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	var w value.Value[int32]
	if err := gob.NewDecoder(bytes.NewReader(b.Bytes())).Decode(&w); !errors.Is(err, value.ErrIncompatible) {
		t.Fatalf("decoding a Value[int64] handle into a Value[int32]: %v", err)
	}
	var u value.Value[int64]
	if err := gob.NewDecoder(bytes.NewReader(b.Bytes())).Decode(&u); err != nil || u.Load() != 3 {
		t.Fatalf("decoding into a Value[int64]: %v", err)
	}
}

func TestWorkerProcess(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	var a gobArgs
	var err error
	if a.Count, err = value.Create[int64](seg, "count", 1); err != nil {
		t.Fatal(err)
	}
	if a.Point, err = value.Create(seg, "point", point{X: 1}); err != nil {
		t.Fatal(err)
	}
	if a.Raw, err = value.CreateRaw(seg, "raw", point{Y: 7}); err != nil {
		t.Fatal(err)
	}
	if err := gobWorker.Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := a.Count.Load(); got != 42 {
		t.Errorf("count = %d, want 42", got)
	}
	if got := a.Point.Load(); got != (point{X: 2, Y: 4}) {
		t.Errorf("point = %v, want {2 4}", got)
	}
	if got := a.Raw.Load(); got != (point{Y: 7, Tag: [4]byte{'d', 'o', 'n', 'e'}}) {
		t.Errorf("raw = %v", got)
	}
}

// TestHammer: a writer process stores 64-byte values whose eight fields
// are equal while two reader processes load them; no reader may see
// fields that differ, or a value older than one it saw before.
func TestHammer(t *testing.T) {
	stores := uint64(shmtest.Iterations(t, 300_000))
	seg := shmtest.Segment(t, 1<<16)
	a := hammerArgs{Stores: stores}
	var err error
	if a.V, err = value.Create(seg, "wide", wide{}); err != nil {
		t.Fatal(err)
	}
	if a.F.Ready, err = value.Create[uint32](seg, "ready", 0); err != nil {
		t.Fatal(err)
	}
	if a.F.Done, err = value.Create[uint32](seg, "done", 0); err != nil {
		t.Fatal(err)
	}
	if a.Seen, err = value.Create[uint64](seg, "seen", 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 2*time.Minute))
	defer cancel()
	w, err := hammerWriter.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := hammerReader.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := hammerReader.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []interface{ Wait() error }{w, r1, r2} {
		if err := p.Wait(); err != nil {
			t.Error(err)
		}
	}
	// Each reader saw the final value; more than two distinct values in
	// all means the reads overlapped the writes.
	seen := a.Seen.Load()
	t.Logf("%d stores; readers saw %d distinct values", stores, seen)
	if seen < 3 {
		t.Errorf("readers saw %d distinct values: they did not run beside the writer", seen)
	}
}

// TestWriterDies: a process dies holding the lock in the middle of a
// write. A reader must not wait for ever (it takes the lock over and
// repairs the sequence), and writers go on.
func TestWriterDies(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		writerDies(t)
	}
}

func writerDies(t *testing.T) {
	a, p := startCrashWriter(t)
	p.Kill()
	p.Wait()
	done := make(chan wide, 1) // buffered: after the timeout below nobody reads it
	shmtest.Go(t, func() { done <- a.V.Load() })
	select {
	case got := <-done:
		if got != wideOf(1) {
			t.Fatalf("Load after the writer died = %v", got.F)
		}
	case <-time.After(30 * time.Second):
		// The cleanup still waits for the Load before it unmaps the value:
		// a Load that never returns then hangs the test until go test's
		// -timeout dumps the goroutines, rather than faulting on the unmap.
		t.Fatal("Load still waiting 30 s after the writer died")
	}
	a.V.Store(wideOf(2))
	if got := a.V.Load(); got != wideOf(2) {
		t.Fatalf("Load = %v", got.F)
	}
}

func TestLockContextOwnerDead(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		lockContextOwnerDead(t)
	}
}

func lockContextOwnerDead(t *testing.T) {
	a, p := startCrashWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := a.V.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext while a live process holds the lock: %v", err)
	}
	cancel()
	p.Kill()
	p.Wait()
	l, err := a.V.LockContext(context.Background())
	if !errors.Is(err, value.ErrOwnerDead) {
		t.Fatalf("LockContext after the holder died: %v, want ErrOwnerDead", err)
	}
	l.Unlock()
	if got := a.V.Load(); got != wideOf(1) {
		t.Fatalf("Load = %v", got.F)
	}
}

func TestLoadInto(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create(seg, "w", wideOf(3))
	if err != nil {
		t.Fatal(err)
	}
	i, err := value.Create[uint32](seg, "i", 9)
	if err != nil {
		t.Fatal(err)
	}
	var w wide
	var n uint32
	v.LoadInto(&w)
	i.LoadInto(&n)
	if w != wideOf(3) || n != 9 {
		t.Fatalf("LoadInto: %v, %d", w.F, n)
	}
}

// startCrashWriter starts a process that takes the lock of a Value holding
// wideOf(1), marks a write in progress, and waits to be killed.
func startCrashWriter(t *testing.T) (crashArgs, *process.Process) {
	seg := shmtest.Segment(t, 1<<16)
	var a crashArgs
	var err error
	if a.V, err = value.Create(seg, "v", wideOf(1)); err != nil {
		t.Fatal(err)
	}
	if a.Ready, err = value.Create[uint32](seg, "ready", 0); err != nil {
		t.Fatal(err)
	}
	p, err := crashWriter.Start(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if err := awaitAtLeast(a.Ready, 1); err != nil {
		t.Fatal(err)
	}
	return a, p
}

// TestAddAcrossProcesses: three processes Add to one counter at once, and
// none of their Adds is lost.
func TestAddAcrossProcesses(t *testing.T) {
	n := shmtest.Iterations(t, 200_000)
	seg := shmtest.Segment(t, 1<<16)
	c, err := value.Create[int64](seg, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ps []*process.Process
	for range 3 {
		p, err := adder.Start(context.Background(), addArgs{c, n})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Load(); got != int64(3*n) {
		t.Fatalf("counter %d, want %d", got, 3*n)
	}
}

func TestUpdateContext(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create(seg, "p", point{X: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := v.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := v.UpdateContext(ctx, func(p *point) { p.X = 5 }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpdateContext while the lock is held: %v", err)
	}
	l.Unlock()
	if got, err := v.UpdateContext(context.Background(), func(p *point) { p.X = 5 }); err != nil || got.X != 5 || v.Load().X != 5 {
		t.Fatalf("UpdateContext: %v, %v", got, err)
	}
}
