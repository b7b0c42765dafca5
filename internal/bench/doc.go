// Package bench holds the baselines and floors that shmkit's benchmarks
// are measured against, in the same run, on the same machine: what a Go
// program would use instead of shmkit (unix domain sockets, plain and
// bufio-batched; os.Pipe; Go channels in one process) and the raw floors
// under every shared-memory object (a cache line bounced between two
// spinning processes, a futex ping-pong between two processes, and copy
// bandwidth).
//
// Every function takes the *testing.B of the caller's benchmark and
// measures b.N operations; the process-to-process ones start their peer as
// a real child process with package process. The peers are registered
// workers of this package, so a test binary that imports bench and calls
// process.Main first in TestMain can run them:
//
//	func TestMain(m *testing.M) {
//		process.Main()
//		os.Exit(m.Run())
//	}
//
//	func BenchmarkPingPong(b *testing.B) {
//		for _, size := range bench.Sizes {
//			b.Run(fmt.Sprintf("size=%d/ring", size), func(b *testing.B) { benchmarkRingPingPong(b, size) })
//			b.Run(fmt.Sprintf("size=%d/unix", size), func(b *testing.B) { bench.UnixSocketPingPong(b, size) })
//		}
//		b.Run("floor/futex", bench.FutexPingPong)
//		b.Run("floor/shm", bench.ShmPingPong)
//	}
//
// Reported metrics, through internal/benchutil: ping-pongs report one
// round trip per op (ns/op), p50-ns/p99-ns/p999-ns of the round trip
// (HdrHistogram; each sample includes two clock reads, about 40 ns) and
// msgs/s (round trips per second); streams report msgs/s and MB/s of
// one-way traffic. Hot loops do not allocate: allocs/op is 0 except where
// the baseline itself allocates.
//
// Figures are ratios, not absolutes: compare a shmkit benchmark with the
// baseline of the same message size from the same run. The machines this
// runs on may have 2 cores; the spinning floors (ShmPingPong) use both.
//
// Scope: Linux only. Every segment a baseline creates is anonymous
// (memfd), so nothing is left in /dev/shm.
package bench
