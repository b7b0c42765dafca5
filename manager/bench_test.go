package manager_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// Benchmarks of a manager's round trips, each beside Python's
// multiprocessing Manager doing the same in the same run
// (testdata/pymanager.py; skipped without python3). ops/s is the figure to
// compare; p50-ns and p99-ns are one operation's latency.

// aims are the speeds to hold against Python's manager: shmkit's ops/s at
// least aim times Python's, measured in the same run. The Python line of
// each reports them: x-python (shmkit's ops/s of the line just before,
// over Python's) beside aim-x.
var aims = map[string]float64{"dict-set": 30, "dict-get": 30, "dict-set-4procs": 10}

// shmkitOps holds the ops/s of the last shmkit (server process) run of
// each operation, for the Python line's x-python.
var shmkitOps = map[string]float64{}

// pyOps is how many operations the Python baseline runs (it is ~50 µs an
// operation: b.N would make it run for minutes).
const pyOps = 20000

// dict-set sets the keys 0..pyOps-1 over and over, so that its dict holds
// pyOps keys, as the Python run's does (Python sets pyOps fresh keys once):
// the two compare one operation on dicts of one size. dict-set-fresh sets
// b.N fresh keys (no Python line, no aim): the server's heap grows all the
// way, and its p99 shows what that growth costs (first touches of new
// memory and the collector's cycles; over 10 µs here, in process too).
func BenchmarkManager(b *testing.B) {
	ops := []struct {
		name string
		py   string
		run  func(ctx context.Context, b *testing.B, m *manager.Manager) func(i int) error
	}{
		{"dict-set", "dict-set", func(ctx context.Context, b *testing.B, m *manager.Manager) func(int) error {
			d := benchMust(manager.NewDict[int, int](ctx, m))
			return func(i int) error { return d.Set(ctx, i%pyOps, i) }
		}},
		{"dict-set-fresh", "", func(ctx context.Context, b *testing.B, m *manager.Manager) func(int) error {
			d := benchMust(manager.NewDict[int, int](ctx, m))
			return func(i int) error { return d.Set(ctx, i, i) }
		}},
		{"dict-get", "dict-get", func(ctx context.Context, b *testing.B, m *manager.Manager) func(int) error {
			d := benchMust(manager.NewDict[int, int](ctx, m))
			d.Set(ctx, 0, 0)
			return func(int) error { _, _, err := d.Get(ctx, 0); return err }
		}},
		{"list-append", "list-append", func(ctx context.Context, b *testing.B, m *manager.Manager) func(int) error {
			l := benchMust(manager.NewList[int](ctx, m))
			return func(i int) error { _, err := l.Append(ctx, i); return err }
		}},
		{"ns-set", "ns-set", func(ctx context.Context, b *testing.B, m *manager.Manager) func(int) error {
			ns := benchMust(manager.NewNamespace(ctx, m))
			x := manager.AttrOf[int](ns, "x")
			return func(i int) error { return x.Set(ctx, i) }
		}},
	}
	// The floor: one futex ping-pong between two processes, what any
	// round trip between processes that park costs on this machine.
	b.Run("floor/futex-pingpong", bench.FutexPingPong)
	// The pipe's own floor: a request and an echoed reply of a dict set's
	// size over a pipe of the manager's ring size, between two processes,
	// with no manager in between.
	b.Run("floor/pipe-pingpong", benchPipePingPong)
	for _, o := range ops {
		b.Run(o.name+"/impl=shmkit", func(b *testing.B) {
			shmkitOps[o.name] = benchOp(b, func(ctx context.Context) (*manager.Manager, error) { return manager.Start(ctx) }, o.run)
		})
		b.Run(o.name+"/impl=shmkit-inprocess", func(b *testing.B) {
			benchOp(b, func(context.Context) (*manager.Manager, error) { return manager.New() }, o.run)
		})
		if o.py != "" {
			b.Run(o.name+"/impl=python", func(b *testing.B) { pythonBaseline(b, o.name, o.py, pyOps) })
		}
	}
	b.Run("dict-setmany-100/impl=shmkit", func(b *testing.B) {
		ctx := context.Background()
		m := benchMust(manager.Start(ctx))
		defer m.Shutdown()
		d := benchMust(manager.NewDict[int, int](ctx, m))
		batch := make(map[int]int, 100)
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			clear(batch)
			for j := range 100 {
				batch[i*100+j] = j
			}
			if err := d.SetMany(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(100*b.N)/time.Since(start).Seconds(), "ops/s")
	})
	b.Run("dict-set-4procs/impl=shmkit", func(b *testing.B) { shmkitOps["dict-set-4procs"] = benchSet4(b) })
	b.Run("dict-set-4procs/impl=python", func(b *testing.B) { pythonBaseline(b, "dict-set-4procs", "dict-set-4", pyOps) })
	b.Run("start/impl=shmkit", func(b *testing.B) {
		ctx := context.Background()
		start := time.Now()
		for range b.N {
			m := benchMust(manager.Start(ctx))
			if err := m.Shutdown(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "starts/s")
	})
	b.Run("start/impl=python", func(b *testing.B) { pythonBaseline(b, "start", "start", 5) })
}

// benchOp runs run's operation b.N times against a manager that start
// makes, timing each, and returns the ops/s.
func benchOp(b *testing.B, start func(context.Context) (*manager.Manager, error),
	run func(ctx context.Context, b *testing.B, m *manager.Manager) func(i int) error) float64 {
	ctx := context.Background()
	m := benchMust(start(ctx))
	defer m.Shutdown()
	return timeOps(b, run(ctx, b, m))
}

// timeOps runs op b.N times, timing each, reports ops/s and latencies, and
// returns the ops/s.
func timeOps(b *testing.B, op func(i int) error) float64 {
	lat := benchutil.NewLatency()
	b.ReportAllocs()
	b.ResetTimer()
	t := time.Now()
	for i := range b.N {
		t0 := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(t)
	b.StopTimer()
	ops := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(ops, "ops/s")
	lat.Report(b)
	return ops
}

type echoArgs struct{ C *pipe.Conn[[]byte] }

var benchEcho = process.Register("bench.echo", func(ctx context.Context, a echoArgs) error {
	defer a.C.Close()
	var buf []byte
	for {
		p, err := a.C.Peek(ctx)
		if err != nil {
			return nil // the benchmark closed its end
		}
		buf = append(buf[:0], p...)
		a.C.Discard()
		if err := a.C.SendBytes(ctx, buf); err != nil {
			return err
		}
	}
})

// benchPipePingPong is the pipe's round trip that a manager's call rides
// on, timed as benchOp times a call.
func benchPipePingPong(b *testing.B) {
	ctx := context.Background()
	mine, theirs := benchMust2(pipe.New(pipe.Options[[]byte]{Capacity: manager.ChannelSize}))
	p := benchMust(benchEcho.Start(ctx, echoArgs{C: theirs}))
	theirs.Close()
	msg := make([]byte, 8) // about a dict set's request
	round := func(int) error {
		if err := mine.SendBytes(ctx, msg); err != nil {
			return err
		}
		if _, err := mine.Peek(ctx); err != nil {
			return err
		}
		mine.Discard()
		return nil
	}
	if err := round(0); err != nil { // the echo is up
		b.Fatal(err)
	}
	timeOps(b, round)
	mine.Close()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

type setterArgs struct {
	D       *manager.Dict[int, int]
	N, Base int
	Barrier *semaphore.Barrier
}

var benchSetter = process.Register("bench.setter", func(ctx context.Context, a setterArgs) error {
	bar := a.Barrier
	if err := a.D.Set(ctx, a.Base, 0); err != nil { // connected
		return err
	}
	if _, err := bar.Wait(); err != nil { // ready
		return err
	}
	if _, err := bar.Wait(); err != nil { // go
		return err
	}
	for i := range a.N {
		if err := a.D.Set(ctx, a.Base+i, i); err != nil {
			return err
		}
	}
	return nil
})

// benchSet4 sets b.N keys from four client processes at once, connected
// before the clock starts, and returns the ops/s.
func benchSet4(b *testing.B) float64 {
	const procs = 4
	ctx := context.Background()
	m := benchMust(manager.Start(ctx))
	defer m.Shutdown()
	d := benchMust(manager.NewDict[int, int](ctx, m))
	bar := benchMust(semaphore.NewBarrier(procs + 1))
	defer bar.Close()
	per := max(1, b.N/procs)
	var ps []*process.Process
	for i := range procs {
		ps = append(ps, benchMust(benchSetter.Start(ctx, setterArgs{D: d, N: per, Base: i * per, Barrier: bar})))
	}
	if _, err := bar.Wait(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if _, err := bar.Wait(); err != nil {
		b.Fatal(err)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	ops := float64(procs*per) / elapsed.Seconds()
	b.ReportMetric(ops, "ops/s")
	return ops
}

// pythonBaseline runs testdata/pymanager.py mode n once and reports what
// it measured, and, for an operation name with an aim whose shmkit line ran
// before, shmkit's ops/s over Python's (x-python) beside the aim (aim-x).
func pythonBaseline(b *testing.B, name, mode string, n int) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("no python3: no baseline")
	}
	out, err := exec.Command(py, filepath.Join("testdata", "pymanager.py"), mode, strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatalf("pymanager.py %s: %v", mode, err)
	}
	f := strings.Fields(string(out))
	vals := make([]float64, len(f))
	for i, s := range f {
		if vals[i], err = strconv.ParseFloat(s, 64); err != nil {
			b.Fatalf("pymanager.py %s printed %q", mode, out)
		}
	}
	if mode == "start" {
		b.ReportMetric(vals[0], "starts/s")
		return
	}
	b.ReportMetric(vals[0], "ops/s")
	if aim, sh := aims[name], shmkitOps[name]; aim > 0 && sh > 0 && vals[0] > 0 {
		b.ReportMetric(sh/vals[0], "x-python")
		b.ReportMetric(aim, "aim-x")
	}
	if len(vals) == 3 && vals[1] > 0 {
		b.ReportMetric(vals[1], "p50-ns")
		b.ReportMetric(vals[2], "p99-ns")
	}
	b.ReportMetric(0, "ns/op") // the loop ran once, over n operations
}

func benchMust2[T, U any](v T, u U, err error) (T, U) {
	if err != nil {
		panic(err)
	}
	return v, u
}

// benchMust returns v, and panics on err: a benchmark's setup failed.
func benchMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
