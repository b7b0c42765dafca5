package pipe_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

type sinkArgs struct {
	C       *pipe.Conn[[]byte]
	InPlace bool // Peek and Discard (the zero-copy receive) rather than RecvBytes
}

// sink receives until an empty message, then sends back how many
// messages it got.
var sink = process.Register("pipe-bench-sink", func(ctx context.Context, a sinkArgs) error {
	if err := a.C.SendBytes(ctx, []byte("ready")); err != nil {
		return err
	}
	var n int64
	var sum byte
	for {
		var m []byte
		var err error
		if a.InPlace {
			m, err = a.C.Peek(ctx)
		} else {
			m, err = a.C.RecvBytes(ctx)
		}
		if err != nil {
			return err
		}
		end := len(m) == 0
		if !end {
			sum += m[0]
		}
		if a.InPlace {
			a.C.Discard()
		}
		if end {
			break
		}
		n++
	}
	_ = sum
	return a.C.SendBytes(ctx, fmt.Appendf(nil, "%d", n))
})

// benchmarkPipeStream streams size-byte messages one way to a process
// through a pipe made by New with default options.
func benchmarkPipeStream(b *testing.B, size int, inPlace bool) {
	a, c, err := pipe.New(pipe.Options[[]byte]{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p, err := sink.Start(ctx, sinkArgs{C: c, InPlace: inPlace})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := a.RecvBytes(ctx); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := a.SendBytes(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.SendBytes(ctx, nil); err != nil {
		b.Fatal(err)
	}
	got, err := a.RecvBytes(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || string(got) != fmt.Sprint(b.N) {
		b.Fatalf("the receiver got %q of %d (%v)", got, b.N, err)
	}
	benchutil.ReportRate(b, b.N, size, elapsed)
	a.Close()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStream measures one-way throughput through a default pipe:
// 64-byte messages (in the ring) and 1 MiB and 16 MiB ones (out of line,
// in the pipe's arena), received with RecvBytes (a copy out) and with
// Peek/Discard (read in place), beside a bufio unix socket and copy
// bandwidth in the same run.
func BenchmarkStream(b *testing.B) {
	b.Run("size=64B/pipe/recv", func(b *testing.B) { benchmarkPipeStream(b, 64, false) })
	b.Run("size=64B/pipe/peek", func(b *testing.B) { benchmarkPipeStream(b, 64, true) })
	b.Run("size=64B/unix-bufio", func(b *testing.B) { bench.UnixSocketStream(b, 64, true) })
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("size=%dMiB/pipe/recv", size>>20), func(b *testing.B) { benchmarkPipeStream(b, size, false) })
		b.Run(fmt.Sprintf("size=%dMiB/pipe/peek", size>>20), func(b *testing.B) { benchmarkPipeStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%dMiB/unix-bufio", size>>20), func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%dMiB/floor/copy", size>>20), func(b *testing.B) { bench.CopyBandwidth(b, size) })
	}
}
