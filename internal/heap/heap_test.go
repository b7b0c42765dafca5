package heap_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/heap"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// usage is what the process maps: its shared mappings (lines of
// /proc/self/maps whose permissions end in "s": every segment is mapped
// MAP_SHARED, the Go runtime's own memory never is; under -race the
// runtime adds a dozen private mappings of its own over a run), and
// RssShmem (kB) of /proc/self/status.
type usage struct{ maps, shmemKB int }

func readUsage(t testing.TB) usage {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var u usage
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && strings.HasSuffix(f[1], "s") {
			u.maps++
		}
	}
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssShmem:" {
			if u.shmemKB, err = strconv.Atoi(f[1]); err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatal("no RssShmem in /proc/self/status")
	return u
}

// Slack allowed over the whole run, whatever the number of cycles: the
// heap's current segment (one mapping under 1 MiB, a dozen pages
// touched).
const (
	mapSlack   = 2
	shmemSlack = 2 << 10 // kB
)

// TestNoHandleLeaks makes and closes handles many times over and checks
// that the process maps no more than at the start, give or take a
// constant: a leak of one mapping or one page per cycle shows as
// thousands.
func TestNoHandleLeaks(t *testing.T) {
	n := shmtest.Iterations(t, 10000)
	ctx := context.Background()
	cases := []struct {
		name  string
		cycle func() error
	}{
		{"Queue", func() error {
			q, err := queue.New(queue.Options[int64]{})
			if err != nil {
				return err
			}
			defer q.Close()
			if err := q.Put(ctx, 7); err != nil {
				return err
			}
			_, err = q.Get(ctx)
			return err
		}},
		{"Pipe", func() error {
			a, b, err := pipe.New(pipe.Options[int64]{})
			if err != nil {
				return err
			}
			defer a.Close()
			defer b.Close()
			if err := a.Send(ctx, 7); err != nil {
				return err
			}
			_, err = b.Recv(ctx)
			return err
		}},
		{"Value", func() error {
			v, err := value.New[int64](7)
			if err != nil {
				return err
			}
			defer v.Close()
			v.Store(v.Load() + 1)
			return nil
		}},
		{"Mutex", func() error {
			m, err := semaphore.NewMutex()
			if err != nil {
				return err
			}
			defer m.Close()
			if ok, err := m.TryLock(); !ok || err != nil {
				return fmt.Errorf("TryLock of a new Mutex = %v, %v", ok, err)
			}
			m.Unlock()
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 50 { // warm up: the runtime's arenas, the heap's current segment
				if err := c.cycle(); err != nil {
					t.Fatal(err)
				}
			}
			before := readUsage(t)
			for i := range n {
				if err := c.cycle(); err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
			}
			after := readUsage(t)
			t.Logf("%d cycles: mappings %d -> %d, RssShmem %d -> %d kB", n, before.maps, after.maps, before.shmemKB, after.shmemKB)
			if after.maps > before.maps+mapSlack {
				t.Errorf("%d New/Close cycles added %d mappings (slack %d)", n, after.maps-before.maps, mapSlack)
			}
			if after.shmemKB > before.shmemKB+shmemSlack {
				t.Errorf("%d New/Close cycles added %d kB of RssShmem (slack %d kB)", n, after.shmemKB-before.shmemKB, shmemSlack)
			}
		})
	}
}

// TestSmallObjectsShareMappings holds many Values and Mutexes at once:
// they must share a handful of heap segments, which go when the last of
// them is closed.
func TestSmallObjectsShareMappings(t *testing.T) {
	n := 10000
	base := heap.ReadStats()
	before := readUsage(t)
	vs := make([]*value.Value[int64], n)
	ms := make([]*semaphore.Mutex, n/10)
	for i := range vs {
		v, err := value.New(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		vs[i] = v
	}
	for i := range ms {
		m, err := semaphore.NewMutex()
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
	}
	held := readUsage(t)
	st := heap.ReadStats()
	t.Logf("%d Values and %d Mutexes: %d heap segments, mappings %d -> %d", n, len(ms), st.Segments, before.maps, held.maps)
	if st.Segments-base.Segments > 12 || held.maps-before.maps > 12+mapSlack {
		t.Errorf("%d small objects made %d heap segments and %d mappings, want a handful", n+len(ms), st.Segments-base.Segments, held.maps-before.maps)
	}
	for i, v := range vs {
		if got := v.Load(); got != int64(i) {
			t.Fatalf("Value %d holds %d", i, got)
		}
	}
	for _, v := range vs {
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		m.Close()
	}
	after := readUsage(t)
	if st := heap.ReadStats(); st.Segments > 1 || st.Refs != base.Refs {
		t.Errorf("after Close of every object: %d heap segments, %d refs, want at most the current one and %d refs", st.Segments, st.Refs, base.Refs)
	}
	if after.maps > before.maps+mapSlack {
		t.Errorf("after Close of every object: %d mappings, %d before", after.maps, before.maps)
	}
}

// TestBigArrayOwnSegment: an array too big to share a segment gets its
// own, unmapped by its Close.
func TestBigArrayOwnSegment(t *testing.T) {
	base := heap.ReadStats().Segments
	a, err := array.New[float64](1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	a.Set(1<<20-1, 2.5)
	if got := heap.ReadStats().Segments; got != base+1 {
		t.Errorf("a 8 MiB array: %d heap segments, want %d", got, base+1)
	}
	if a.At(1<<20-1) != 2.5 {
		t.Error("last element lost")
	}
	a.Close()
	if got := heap.ReadStats().Segments; got != base {
		t.Errorf("after Close: %d heap segments, want %d", got, base)
	}
}

type shortArgs struct {
	Count   *value.Value[int64]
	Arrived *value.Value[int64]
	Hist    *array.Array[int32]
	Lock    *semaphore.Mutex
	Cond    *semaphore.Cond
	Ready   *semaphore.Event
	Slots   *semaphore.Semaphore
	Barrier *semaphore.Barrier
	RW      *semaphore.RWMutex
	N       int
	Index   int
}

// shortWorker uses every short-form object it was handed, then closes
// them all.
var shortWorker = process.Register("heap-short-worker", func(ctx context.Context, a shortArgs) error {
	closeAll := func() {
		for _, c := range []interface{ Close() error }{a.Count, a.Arrived, a.Hist, a.Lock, a.Cond, a.Ready, a.Slots, a.Barrier, a.RW} {
			c.Close()
		}
	}
	defer closeAll() // idempotent: on the error paths
	// The objects share one heap segment: one descriptor, one mapping.
	if n, err := anonMappings(); err != nil || n != 1 {
		return fmt.Errorf("the worker maps %d anonymous segments for objects of one heap segment, want 1 (%v)", n, err)
	}
	a.Ready.Wait()
	for range a.N {
		if err := a.Slots.AcquireContext(ctx, 1); err != nil {
			return err
		}
		value.Add(a.Count, 1)
		a.Slots.Release(1)
	}
	a.RW.RLock()
	a.Hist.Set(a.Index, int32(a.Index+1))
	a.RW.RUnlock()
	if _, err := a.Barrier.WaitContext(ctx); err != nil {
		return err
	}
	a.Cond.L.Lock()
	if ok, _ := a.Lock.TryLock(); ok {
		a.Lock.Unlock()
		a.Cond.L.Unlock()
		return errors.New("the Cond's L is not the Mutex given to NewCondFor")
	}
	value.Add(a.Arrived, 1)
	a.Cond.Broadcast()
	a.Cond.L.Unlock()
	// Closing every handle unmaps the segment they attached.
	closeAll()
	if n, err := anonMappings(); err != nil || n != 0 {
		return fmt.Errorf("the worker still maps %d anonymous segments after closing every handle (%v)", n, err)
	}
	return nil
})

// anonMappings counts this process's mappings of anonymous segments.
func anonMappings() (int, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	return strings.Count(string(maps), "memfd:shmkit"), err
}

// TestShortFormsInWorkers hands every short form to worker processes, as
// queues travel: the workers attach the heap segments by inherited
// descriptor, use the objects and close them; the parent sees their work.
func TestShortFormsInWorkers(t *testing.T) {
	const workers, n = 3, 200
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60e9))
	defer cancel()
	count, err := value.New[int64](0)
	must(t, err)
	defer count.Close()
	arrived, err := value.New[int64](0)
	must(t, err)
	defer arrived.Close()
	hist, err := array.New[int32](workers)
	must(t, err)
	defer hist.Close()
	lock, err := semaphore.NewMutex()
	must(t, err)
	defer lock.Close()
	cond, err := semaphore.NewCondFor(lock)
	must(t, err)
	defer cond.Close()
	ready, err := semaphore.NewEvent()
	must(t, err)
	defer ready.Close()
	slots, err := semaphore.NewBoundedSemaphore(2)
	must(t, err)
	defer slots.Close()
	bar, err := semaphore.NewBarrier(workers)
	must(t, err)
	defer bar.Close()
	rw, err := semaphore.NewRWMutex()
	must(t, err)
	defer rw.Close()

	var ps []*process.Process
	for i := range workers {
		p, err := shortWorker.Start(ctx, shortArgs{count, arrived, hist, lock, cond, ready, slots, bar, rw, n, i})
		must(t, err)
		ps = append(ps, p)
	}
	ready.Set()
	lock.Lock()
	err = cond.WaitForContext(ctx, func() bool { return arrived.Load() == workers })
	lock.Unlock()
	must(t, err)
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := count.Load(); got != workers*n {
		t.Errorf("count = %d, want %d", got, workers*n)
	}
	for i := range workers {
		if got := hist.At(i); got != int32(i+1) {
			t.Errorf("hist[%d] = %d, want %d", i, got, i+1)
		}
	}
	if v := slots.Value(); v != 2 {
		t.Errorf("semaphore value %d after the workers, want 2", v)
	}
	if ok, err := lock.TryLock(); err != nil || !ok {
		t.Errorf("TryLock after the workers = %v, %v: a worker left the Mutex held", ok, err)
	} else {
		lock.Unlock()
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDecodedHandlesUnmap decodes handles to objects of a named segment
// many times over (a decoded handle attaches its own mapping) and closes
// them: the mappings must go with them.
func TestDecodedHandlesUnmap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create[int64](seg, "v", 5)
	must(t, err)
	a, err := array.Create[int32](seg, "a", 4)
	must(t, err)
	m, err := semaphore.CreateMutex(seg, "m")
	must(t, err)
	c, err := semaphore.CreateCondFor(seg, "c", m)
	must(t, err)
	e, err := semaphore.CreateEvent(seg, "e")
	must(t, err)
	type handles struct {
		V *value.Value[int64]
		A *array.Array[int32]
		M *semaphore.Mutex
		C *semaphore.Cond
		E *semaphore.Event
	}
	var buf bytes.Buffer
	must(t, gob.NewEncoder(&buf).Encode(handles{v, a, m, c, e}))
	enc := buf.Bytes()
	roundTrip := func() {
		var h handles
		must(t, gob.NewDecoder(bytes.NewReader(enc)).Decode(&h))
		if h.V.Load() != 5 || h.A.Len() != 4 || h.C.L == nil {
			t.Fatalf("decoded handles: value %d, array of %d", h.V.Load(), h.A.Len())
		}
		for _, c := range []interface{ Close() error }{h.V, h.A, h.M, h.C, h.E} {
			must(t, c.Close())
			must(t, c.Close()) // idempotent
		}
	}
	mapsOf := func() int {
		b, err := os.ReadFile("/proc/self/maps")
		must(t, err)
		return strings.Count(string(b), seg.Path())
	}
	if n := mapsOf(); n != 1 {
		t.Fatalf("%d mappings of %s before decoding, want the creator's 1", n, seg.Path())
	}
	for range shmtest.Iterations(t, 500) {
		roundTrip()
	}
	// A decoded handle attaches a mapping of its own (one per process,
	// counted); closing every decoded handle unmaps it.
	if n := mapsOf(); n != 1 {
		t.Errorf("%d mappings of %s after every decoded handle was closed, want the creator's 1", n, seg.Path())
	}
}

type outliveArgs struct {
	Big    *array.Array[int64] // in a heap segment of its own
	Closed *semaphore.Event    // set once the parent has closed Big
	Sum    *value.Value[int64]
}

var outliveWorker = process.Register("heap-outlive", func(ctx context.Context, a outliveArgs) error {
	defer a.Big.Close()
	if !a.Closed.WaitContext(ctx) {
		return ctx.Err()
	}
	var sum int64
	a.Big.With(func(s []int64) {
		for i := range s {
			s[i] = int64(i)
			sum += s[i]
		}
	})
	a.Sum.Store(sum)
	return nil
})

// TestWorkerOutlivesClose: the parent closes its handle on an object (and
// unmaps the object's segment) while a worker still uses it; the memory
// lives in the worker, which maps it too.
func TestWorkerOutlivesClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60e9))
	defer cancel()
	const n = 1 << 16
	big, err := array.New[int64](n)
	must(t, err)
	closed, err := semaphore.NewEvent()
	must(t, err)
	defer closed.Close()
	sum, err := value.New[int64](0)
	must(t, err)
	defer sum.Close()
	segs := heap.ReadStats().Segments
	p, err := outliveWorker.Start(ctx, outliveArgs{big, closed, sum})
	must(t, err)
	must(t, big.Close())
	if got := heap.ReadStats().Segments; got != segs-1 {
		t.Fatalf("after Close of the big array: %d heap segments, want %d (its own unmapped)", got, segs-1)
	}
	closed.Set()
	must(t, p.Wait())
	if got, want := sum.Load(), int64(n*(n-1)/2); got != want {
		t.Errorf("the worker's sum over the array the parent closed = %d, want %d", got, want)
	}
}

type twiceArgs struct {
	V1, V2 *value.Value[int64] // the same Value, twice
	A1, A2 *array.Array[int64] // the same big Array (a heap segment of its own), twice
	Lock   *semaphore.Mutex    // in V's heap segment
}

// memfdFDs counts this process's descriptors of anonymous segments.
func memfdFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "/memfd:shmkit") {
			n++
		}
	}
	return n, nil
}

var twiceWorker = process.Register("heap-twice", func(ctx context.Context, a twiceArgs) error {
	all := []interface{ Close() error }{a.V1, a.V2, a.A1, a.A2, a.Lock}
	defer func() {
		for _, c := range all {
			c.Close()
		}
	}()
	// Two heap segments: two descriptors, two mappings, however many
	// handles name them.
	if n, err := anonMappings(); err != nil || n != 2 {
		return fmt.Errorf("objects of 2 heap segments, 5 handles: the worker maps %d anonymous segments, want 2 (%v)", n, err)
	}
	// The two handles of one object are one memory.
	value.Add(a.V1, 5)
	if got := a.V2.Load(); got != 6 {
		return fmt.Errorf("V2 = %d after V1 += 5, want 6", got)
	}
	a.A1.Set(1<<12-1, 9)
	// Closing one of two handles leaves the other working.
	a.V1.Close()
	a.A1.Close()
	if got := a.A2.At(1<<12 - 1); got != 9 {
		return fmt.Errorf("A2[last] = %d after A1 set it and closed, want 9", got)
	}
	if ok, err := a.Lock.TryLock(); !ok || err != nil {
		return fmt.Errorf("TryLock of the Mutex = %v, %v", ok, err)
	}
	value.Add(a.V2, 1)
	a.Lock.Unlock()
	for _, c := range all {
		c.Close()
	}
	if n, err := anonMappings(); err != nil || n != 0 {
		return fmt.Errorf("the worker still maps %d anonymous segments after closing every handle (%v)", n, err)
	}
	// Nor does it keep the segments alive by descriptor: memory it no
	// longer maps must go when the parent lets it go.
	if n, err := memfdFDs(); err != nil || n != 0 {
		return fmt.Errorf("the worker still holds %d descriptors of anonymous segments after closing every handle (%v)", n, err)
	}
	return nil
})

// TestWorkerSameObjectTwice hands a worker objects of two heap segments,
// each object twice: one descriptor and one mapping per segment; the two
// handles of an object are one memory, each closed on its own; once all
// are closed the worker neither maps nor holds the segments.
func TestWorkerSameObjectTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60e9))
	defer cancel()
	v, err := value.New[int64](1)
	must(t, err)
	defer v.Close()
	a, err := array.New[int64](1 << 12) // 32 KiB: its own heap segment
	must(t, err)
	defer a.Close()
	m, err := semaphore.NewMutex()
	must(t, err)
	defer m.Close()
	p, err := twiceWorker.Start(ctx, twiceArgs{v, v, a, a, m})
	must(t, err)
	must(t, p.Wait())
	if got := v.Load(); got != 7 {
		t.Errorf("the Value after the worker = %d, want 7", got)
	}
	if got := a.At(1<<12 - 1); got != 9 {
		t.Errorf("the Array's last element after the worker = %d, want 9", got)
	}
}

// TestStartClosedHandle: a handle closed before Start is refused with an
// error that says so; Start does not hand its segment's descriptor (which
// Close may have closed, and the process reused) to the worker.
func TestStartClosedHandle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60e9))
	defer cancel()
	v, err := value.New[int64](1)
	must(t, err)
	a, err := array.New[int64](1 << 12)
	must(t, err)
	defer a.Close()
	m, err := semaphore.NewMutex()
	must(t, err)
	defer m.Close()
	must(t, v.Close())
	p, err := twiceWorker.Start(ctx, twiceArgs{v, v, a, a, m})
	if err == nil {
		p.Wait()
		t.Fatal("Start with a closed Value succeeded")
	}
	if !strings.Contains(err.Error(), "closed") {
		t.Errorf("Start with a closed Value: %v, want an error saying it is closed", err)
	}
}

// TestConcurrentNewClose has goroutines make and close short-form objects
// at once, some kept across many cycles of the others (run it with
// -race): every object reads back what its goroutine stored, and once all
// are closed the heap holds no Ref and at most its current segment.
func TestConcurrentNewClose(t *testing.T) {
	const goroutines = 8
	n := shmtest.Iterations(t, 2000)
	base := heap.ReadStats()
	before := readUsage(t)
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			errs <- func() error {
				var kept []interface{ Close() error }
				defer func() {
					for _, c := range kept {
						c.Close()
					}
				}()
				for i := range n {
					v, err := value.New(int64(g*n + i))
					if err != nil {
						return err
					}
					m, err := semaphore.NewMutex()
					if err != nil {
						v.Close()
						return err
					}
					m.Lock()
					v.Store(v.Load() + 1)
					m.Unlock()
					if got := v.Load(); got != int64(g*n+i+1) {
						return fmt.Errorf("goroutine %d cycle %d: the Value holds %d, want %d", g, i, got, g*n+i+1)
					}
					if i%100 == 0 { // some live on while the others come and go
						a, err := array.NewFrom([]int64{int64(g), int64(i)})
						if err != nil {
							return err
						}
						kept = append(kept, v, m, a)
						continue
					}
					m.Close()
					v.Close()
				}
				return nil
			}()
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	st := heap.ReadStats()
	if st.Refs != base.Refs || st.Segments > base.Segments+1 {
		t.Errorf("after every object was closed: %d refs, %d heap segments; before: %d refs, %d segments", st.Refs, st.Segments, base.Refs, base.Segments)
	}
	if after := readUsage(t); after.maps > before.maps+mapSlack {
		t.Errorf("after every object was closed: %d shared mappings, %d before", after.maps, before.maps)
	}
}

// TestAllocInitErrorLeavesNothing: an object whose init fails gives up
// the segment made for it (a big object's own) and holds no Ref.
func TestAllocInitErrorLeavesNothing(t *testing.T) {
	base := heap.ReadStats()
	before := readUsage(t)
	refused := errors.New("refused")
	for _, size := range []int{64, 64 << 10} {
		o, ref, err := heap.Alloc(shm.ObjectSpec{BodySize: size}, func([]byte) error { return refused })
		if !errors.Is(err, refused) || o != nil || ref != nil {
			t.Fatalf("Alloc of %d bytes with a failing init = %v, %v, %v; want init's error", size, o, ref, err)
		}
	}
	if st := heap.ReadStats(); st.Refs != base.Refs || st.Segments > base.Segments+1 {
		t.Errorf("after two failed Allocs: %d refs, %d heap segments; before: %d refs, %d segments", st.Refs, st.Segments, base.Refs, base.Segments)
	}
	if after := readUsage(t); after.maps > before.maps+1 {
		t.Errorf("after two failed Allocs: %d shared mappings, %d before", after.maps, before.maps)
	}
}
