package pool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// benchWorkers is the number of workers of every benchmark, Python's too.
const benchWorkers = 2

// python runs testdata/pool_bench.py and returns what it printed; the
// benchmark is skipped where python3 is missing.
func python(b *testing.B, what string, n int) map[string]float64 {
	b.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not found")
	}
	out, err := exec.Command("python3", "testdata/pool_bench.py", what, strconv.Itoa(n), strconv.Itoa(benchWorkers)).Output()
	if err != nil {
		b.Fatalf("pool_bench.py %s: %v", what, err)
	}
	var m map[string]float64
	if err := json.Unmarshal(out, &m); err != nil {
		b.Fatalf("pool_bench.py %s printed %q: %v", what, out, err)
	}
	return m
}

// BenchmarkMap: Map of x -> 2x over 1,000,000 int64 on two workers, beside
// Python's pool.map at its best chunksize. allocs/task counts every
// allocation of the parent per task.
func BenchmarkMap(b *testing.B) {
	const n = 1_000_000
	b.Run("pool", func(b *testing.B) {
		p := startB(b)
		in := make([]int64, n)
		for i := range in {
			in[i] = int64(i)
		}
		ctx := context.Background()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		b.ResetTimer()
		for b.Loop() {
			out, err := pool.Map(ctx, p, double, in)
			if err != nil || out[n-1] != 2*(n-1) {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "items/s")
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N*n), "allocs/task")
	})
	b.Run("python", func(b *testing.B) {
		m := python(b, "map", n)
		b.ReportMetric(m["items_per_s"], "items/s")
		b.ReportMetric(m["chunksize"], "chunksize")
	})
}

// BenchmarkMapShared: the zero-copy map of x -> 2x over int64 arrays in
// shared memory, beside copy bandwidth over the same bytes (MB/s counts the
// input bytes). 100 million items under SHMKIT_SOAK (1.6 GB of arrays),
// 10 million otherwise; with a function per task and with a batch function
// (RegisterBatch). Three calls before the timing let the workers attach
// the arrays and fault their pages in, a cost paid once per array (and
// large on a loaded virtual machine: a second for 160 MB here).
func BenchmarkMapShared(b *testing.B) {
	n := 10_000_000
	if shmtest.Soak() {
		n = 100_000_000
	}
	for _, batch := range []bool{false, true} {
		name, f := "pool", double
		if batch {
			name, f = "pool/batch", doubleBatch
		}
		b.Run(name, func(b *testing.B) { benchmarkMapShared(b, f, n) })
	}
	b.Run("copy", func(b *testing.B) { bench.CopyBandwidth(b, 8*n) })
}

func benchmarkMapShared(b *testing.B, f *pool.Func[int64, int64], n int) {
	{
		p := startB(b)
		seg := shmtest.Segment(b, int64(16*n)+1<<20)
		in, err := array.CreateRaw[int64](seg, "in", n)
		if err != nil {
			b.Fatal(err)
		}
		out, err := array.CreateRaw[int64](seg, "out", n)
		if err != nil {
			b.Fatal(err)
		}
		for i, s := 0, in.Slice(); i < n; i++ {
			s[i] = int64(i)
		}
		clear(out.Slice())
		ctx := context.Background()
		for range 3 { // attach and fault in, in every worker
			if err := pool.MapShared(ctx, p, f, in, out); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(8 * n))
		for b.Loop() {
			if err := pool.MapShared(ctx, p, f, in, out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "items/s")
		if v := out.At(n - 1); v != 2*int64(n-1) {
			b.Fatalf("out[%d] = %d", n-1, v)
		}
	}
}

// BenchmarkSubmit: one task's round trip (Submit, then Get) with p50 and
// p99, and the rate of tasks kept 256 in flight (with the default
// MaxInFlight of 2 chunks a worker, which bounds the rate at four tasks a
// round trip, and with 32), beside Python's
// apply_async(...).get() and a pipelined apply_async.
func BenchmarkSubmit(b *testing.B) {
	b.Run("pool/roundtrip", func(b *testing.B) {
		p := startB(b)
		ctx := context.Background()
		lat := benchutil.NewLatency()
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			v, err := pool.Submit(ctx, p, double, int64(i)).Get(ctx)
			lat.Record(time.Since(t0))
			if err != nil || v != 2*int64(i) {
				b.Fatal(err)
			}
		}
		lat.Report(b)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
	for _, inflight := range []int{2, 32} {
		b.Run(fmt.Sprintf("pool/pipelined/inflight=%d", inflight), func(b *testing.B) {
			p := startB(b, pool.MaxInFlight(inflight))
			ctx := context.Background()
			const depth = 256
			futs := make([]*pool.Future[int64], 0, depth)
			for i := 0; b.Loop(); i++ {
				if len(futs) == depth {
					if _, err := futs[0].Get(ctx); err != nil {
						b.Fatal(err)
					}
					futs = append(futs[:0], futs[1:]...)
				}
				futs = append(futs, pool.Submit(ctx, p, double, int64(i)))
			}
			for _, f := range futs {
				f.Get(ctx)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
	b.Run("python", func(b *testing.B) {
		m := python(b, "apply", 5000)
		b.ReportMetric(m["p50_us"]*1e3, "p50-ns")
		b.ReportMetric(m["p99_us"]*1e3, "p99-ns")
		b.ReportMetric(m["tasks_per_s"], "tasks/s")
	})
}

// BenchmarkStart: a pool of two workers from Start until both are ready
// (started, initializer run), then Terminate; beside Python's Pool(2) with
// fork and with spawn until both workers have answered a task.
func BenchmarkStart(b *testing.B) {
	b.Run("pool", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			p, err := pool.Start(ctx, pool.Processes(benchWorkers))
			if err != nil {
				b.Fatal(err)
			}
			p.Terminate()
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/start")
	})
	b.Run("python", func(b *testing.B) {
		m := python(b, "start", 5)
		b.ReportMetric(m["fork_ms"], "fork-ms/start")
		b.ReportMetric(m["spawn_ms"], "spawn-ms/start")
	})
}

func startB(b *testing.B, opts ...pool.Option) *pool.Pool {
	p, err := pool.Start(context.Background(), append([]pool.Option{pool.Processes(benchWorkers)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Terminate() })
	return p
}
