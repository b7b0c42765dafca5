package value_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

// Load and Store of one process, uncontended, beside what a Go program
// would otherwise use in one process: an atomic.Int64 and a struct behind
// a sync.Mutex.
func BenchmarkLoad(b *testing.B) {
	seg := shmtest.Segment(b, 1<<16)
	i64, _ := value.Create[int64](seg, "i64", 1)
	w, _ := value.Create(seg, "wide", wideOf(1))
	raw, _ := value.CreateRaw(seg, "raw", wideOf(1))
	var sink wide
	var sink64 int64
	b.Run("int64", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink64 += i64.Load()
		}
	})
	b.Run("wide64B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = w.Load()
		}
	})
	b.Run("wide64B-LoadInto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.LoadInto(&sink)
		}
	})
	b.Run("raw-wide64B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = raw.Load()
		}
	})
	b.Run("baseline-atomic.Int64", func(b *testing.B) {
		var a atomic.Int64
		for b.Loop() {
			sink64 += a.Load()
		}
	})
	b.Run("baseline-mutex-wide64B", func(b *testing.B) {
		var mu sync.Mutex
		h := wideOf(1)
		for b.Loop() {
			mu.Lock()
			sink = h
			mu.Unlock()
		}
	})
	_ = sink
}

func BenchmarkStore(b *testing.B) {
	seg := shmtest.Segment(b, 1<<16)
	i64, _ := value.Create[int64](seg, "i64", 1)
	w, _ := value.Create(seg, "wide", wideOf(1))
	raw, _ := value.CreateRaw(seg, "raw", wideOf(1))
	x := wideOf(2)
	b.Run("int64", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			i64.Store(2)
		}
	})
	b.Run("wide64B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Store(x)
		}
	})
	b.Run("raw-wide64B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw.Store(x)
		}
	})
	b.Run("int64-Add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			value.Add(i64, 1)
		}
	})
	b.Run("baseline-mutex-wide64B", func(b *testing.B) {
		var mu sync.Mutex
		var h wide
		for b.Loop() {
			mu.Lock()
			h = x
			mu.Unlock()
		}
		_ = h
	})
}

// benchArgs wire a benchmark's helper process: it says Ready, waits for
// Go, works until Stop, and reports how much it did in Ops.
type benchArgs struct {
	Counter *value.Value[int64]
	Wide    *value.Value[wide]
	Ready   *value.Value[uint32]
	Stop    *value.Value[uint32]
	Ops     *value.Value[int64]
}

func newBenchArgs(b *testing.B) benchArgs {
	seg := shmtest.Segment(b, 1<<16)
	var a benchArgs
	var err error
	for _, e := range []error{
		func() error { a.Counter, err = value.Create[int64](seg, "counter", 0); return err }(),
		func() error { a.Wide, err = value.Create(seg, "wide", wideOf(0)); return err }(),
		func() error { a.Ready, err = value.Create[uint32](seg, "ready", 0); return err }(),
		func() error { a.Stop, err = value.Create[uint32](seg, "stop", 0); return err }(),
		func() error { a.Ops, err = value.Create[int64](seg, "ops", 0); return err }(),
	} {
		if e != nil {
			b.Fatal(e)
		}
	}
	return a
}

var benchAdder = process.Register("value-bench-adder", func(ctx context.Context, a benchArgs) error {
	a.Ready.Store(1)
	var n int64
	for a.Stop.Load() == 0 {
		for range 64 {
			value.Add(a.Counter, 1)
		}
		n += 64
	}
	a.Ops.Store(n)
	return nil
})

var benchUpdater = process.Register("value-bench-updater", func(ctx context.Context, a benchArgs) error {
	membarrier.Await() // see BenchmarkUpdateTwoProcesses
	a.Ready.Store(1)
	var n int64
	for a.Stop.Load() == 0 {
		for range 64 {
			a.Counter.Update(increment)
		}
		n += 64
	}
	a.Ops.Store(n)
	return nil
})

// increment is the update of BenchmarkUpdateTwoProcesses: Python's
// "with v.get_lock(): v.value += 1".
func increment(x *int64) { *x++ }

var benchWriter = process.Register("value-bench-writer", func(ctx context.Context, a benchArgs) error {
	a.Ready.Store(1)
	var n int64
	for i := uint64(1); a.Stop.Load() == 0; i++ {
		a.Wide.Store(wideOf(i))
		n++
	}
	a.Ops.Store(n)
	return nil
})

// runBeside runs the loop of b beside a helper process started with w,
// and returns the helper's operation count and the elapsed time.
func runBeside(b *testing.B, w *process.Func[benchArgs], a benchArgs, loop func()) (int64, time.Duration) {
	p, err := w.Start(context.Background(), a)
	if err != nil {
		b.Fatal(err)
	}
	if err := awaitAtLeast(a.Ready, 1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	loop()
	elapsed := time.Since(start)
	b.StopTimer()
	a.Stop.Store(1)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
	return a.Ops.Load(), elapsed
}

// BenchmarkAddTwoProcesses: this process and a helper process Add to one
// shared counter at once; msgs/s counts the Adds of both.
func BenchmarkAddTwoProcesses(b *testing.B) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	a := newBenchArgs(b)
	theirs, elapsed := runBeside(b, benchAdder, a, func() {
		for range b.N {
			value.Add(a.Counter, 1)
		}
	})
	if got, want := a.Counter.Load(), int64(b.N)+theirs; got != want {
		b.Fatalf("counter %d, want %d: an Add was lost", got, want)
	}
	benchutil.ReportRate(b, b.N+int(theirs), 0, elapsed)
}

// BenchmarkUpdateTwoProcesses: this process and a helper process update
// one shared counter under its lock at once (Update, the lock a
// semaphore.Mutex shared by both: Python's Value + get_lock(), which
// .ci/peers-python measures beside it); msgs/s counts the updates of both.
//
// Both processes wait for their membarrier registration (the first
// integer Update of a process starts it, and it takes 12-16 ms here)
// before they
// count: the steady state, in which Update stores plainly. Until it
// finishes, a process's Updates store with a CAS, as where membarrier is
// unavailable.
func BenchmarkUpdateTwoProcesses(b *testing.B) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	a := newBenchArgs(b)
	membarrier.Await()
	theirs, elapsed := runBeside(b, benchUpdater, a, func() {
		for range b.N {
			a.Counter.Update(increment)
		}
	})
	if got, want := a.Counter.Load(), int64(b.N)+theirs; got != want {
		b.Fatalf("counter %d, want %d: an update was lost", got, want)
	}
	benchutil.ReportRate(b, b.N+int(theirs), 0, elapsed)
}

// BenchmarkAddTwoGoroutines is the in-process baseline: two goroutines
// adding to one atomic.Int64.
func BenchmarkAddTwoGoroutines(b *testing.B) {
	var c atomic.Int64
	var stop atomic.Bool
	done := make(chan int64)
	go func() {
		var n int64
		for !stop.Load() {
			for range 64 {
				c.Add(1)
			}
			n += 64
		}
		done <- n
	}()
	start := time.Now()
	for range b.N {
		c.Add(1)
	}
	elapsed := time.Since(start)
	stop.Store(true)
	benchutil.ReportRate(b, b.N+int(<-done), 0, elapsed)
}

// BenchmarkLoadUnderWriter: seqlock Loads of a 64-byte value while a
// helper process Stores to it without pause; msgs/s is this process's
// reads, writes/s the helper's stores, retry-free reads are not counted
// apart. Every read is checked for tearing.
func BenchmarkLoadUnderWriter(b *testing.B) {
	a := newBenchArgs(b)
	lat := benchutil.NewLatency()
	var torn int
	theirs, elapsed := runBeside(b, benchWriter, a, func() {
		for i := range b.N {
			if i%1024 == 0 {
				t0 := time.Now()
				if a.Wide.Load().torn() {
					torn++
				}
				lat.Record(time.Since(t0))
				continue
			}
			if a.Wide.Load().torn() {
				torn++
			}
		}
	})
	if torn > 0 {
		b.Fatalf("%d torn reads", torn)
	}
	benchutil.ReportRate(b, b.N, 0, elapsed)
	b.ReportMetric(float64(theirs)/elapsed.Seconds(), "writes/s")
	lat.Report(b)
}

// The cost of a Value's life: New + Close in this process's heap, beside
// the ways there were before it (see benchutil.ObjectLife).
func BenchmarkNewClose(b *testing.B) {
	benchutil.ObjectLife(b, "value.New+Close", func() error {
		v, err := value.New[int64](1)
		if err == nil {
			v.Close()
		}
		return err
	}, func(seg *shm.Segment) error {
		_, err := value.Create[int64](seg, "v", 1)
		return err
	})
}
