package bench_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

func BenchmarkFloor(b *testing.B) {
	b.Run("shm-spin", bench.ShmPingPong)
	b.Run("futex", bench.FutexPingPong)
	for _, size := range bench.Sizes {
		b.Run(fmt.Sprintf("copy/size=%d", size), func(b *testing.B) { bench.CopyBandwidth(b, size) })
	}
}

func BenchmarkPingPong(b *testing.B) {
	for _, size := range bench.Sizes {
		b.Run(fmt.Sprintf("size=%d/unix", size), func(b *testing.B) { bench.UnixSocketPingPong(b, size) })
		b.Run(fmt.Sprintf("size=%d/pipe", size), func(b *testing.B) { bench.PipePingPong(b, size) })
		b.Run(fmt.Sprintf("size=%d/chan", size), func(b *testing.B) { bench.ChannelPingPong(b, size) })
	}
}

func BenchmarkStream(b *testing.B) {
	for _, size := range bench.Sizes {
		b.Run(fmt.Sprintf("size=%d/unix", size), func(b *testing.B) { bench.UnixSocketStream(b, size, false) })
		b.Run(fmt.Sprintf("size=%d/unix-bufio", size), func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%d/pipe", size), func(b *testing.B) { bench.PipeStream(b, size, false) })
		b.Run(fmt.Sprintf("size=%d/pipe-bufio", size), func(b *testing.B) { bench.PipeStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%d/chan", size), func(b *testing.B) { bench.ChannelStream(b, size) })
	}
}

// TestBaselinesRun runs every baseline for a few operations, so that
// `go test ./...` catches a broken peer without running benchmarks.
func TestBaselinesRun(t *testing.T) {
	// A few hundred operations each: enough to cross every code path.
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("300x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old)
	run := func(name string, f func(*testing.B)) {
		t.Run(name, func(t *testing.T) {
			r := testing.Benchmark(f)
			if r.N == 0 {
				t.Fatalf("%s did not run (a peer failed?)", name)
			}
			if r.Extra["msgs/s"] <= 0 {
				t.Fatalf("%s reported no msgs/s: %v", name, r.Extra)
			}
		})
	}
	run("shm", bench.ShmPingPong)
	run("futex", bench.FutexPingPong)
	run("unix-pingpong", func(b *testing.B) { bench.UnixSocketPingPong(b, 64) })
	run("pipe-pingpong", func(b *testing.B) { bench.PipePingPong(b, 64) })
	run("unix-stream", func(b *testing.B) { bench.UnixSocketStream(b, 64, false) })
	run("unix-stream-bufio", func(b *testing.B) { bench.UnixSocketStream(b, 64, true) })
	run("pipe-stream", func(b *testing.B) { bench.PipeStream(b, 64, false) })
	run("pipe-stream-bufio", func(b *testing.B) { bench.PipeStream(b, 64, true) })
	run("chan-stream", func(b *testing.B) { bench.ChannelStream(b, 64) })
	run("chan-pingpong", func(b *testing.B) { bench.ChannelPingPong(b, 64) })
	run("copy", func(b *testing.B) { bench.CopyBandwidth(b, 64) })
	run("shm-stream", func(b *testing.B) { bench.ShmStream(b, 64, 1, false) })
	run("shm-stream-around", func(b *testing.B) { bench.ShmStream(b, 64, 1, true) })
	run("shm-stream-3", func(b *testing.B) { bench.ShmStream(b, 64, 3, false) })
	run("shm-stream-around-100-3", func(b *testing.B) { bench.ShmStream(b, 100, 3, true) }) // runs that start and end inside a line
}
