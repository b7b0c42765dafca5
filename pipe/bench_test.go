package pipe_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

type bytesArgs struct{ C *pipe.Conn[[]byte] }

// echoBytes sends every message back, in place (Peek, SendBytes, Release),
// until io.EOF.
var echoBytes = process.Register("pipe-bench-echo", func(ctx context.Context, a bytesArgs) error {
	for {
		rec, err := a.C.Peek(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := a.C.SendBytes(ctx, rec); err != nil {
			return err
		}
		a.C.Discard()
	}
})

// benchmarkPipePingPong measures a round trip of a size-byte message
// between two processes over a duplex pipe: SendBytes, then Peek and
// Release of the echo.
func benchmarkPipePingPong(b *testing.B, size int, strategy atomics.Strategy) {
	a, c, err := pipe.New(pipe.Options[[]byte]{Codec: codec.Bytes{}, Wait: strategy})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p, err := echoBytes.Start(ctx, bytesArgs{C: c})
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	// One round trip first, so that the child is up before the clock runs.
	a.SendBytes(ctx, msg)
	if _, err := a.Peek(ctx); err != nil {
		b.Fatal(err)
	}
	a.Discard()
	lat := benchutil.NewLatency()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := a.SendBytes(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Peek(ctx); err != nil {
			b.Fatal(err)
		}
		a.Discard()
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, size, elapsed)
	lat.Report(b)
	a.Close()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPingPong64 compares the pipe's round trip with os.Pipe and a
// unix socket carrying the same 64 bytes, in the same run.
func BenchmarkPingPong64(b *testing.B) {
	b.Run("pipe/park", func(b *testing.B) { benchmarkPipePingPong(b, 64, atomics.Park) })
	b.Run("pipe/spin", func(b *testing.B) { benchmarkPipePingPong(b, 64, atomics.Spin) })
	b.Run("ospipe", func(b *testing.B) { bench.PipePingPong(b, 64) })
	b.Run("unix", func(b *testing.B) { bench.UnixSocketPingPong(b, 64) })
	b.Run("floor/futex", bench.FutexPingPong)
}
