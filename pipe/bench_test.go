package pipe_test

import (
	"context"
	"fmt"
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
var echoBytes = process.Register("pipe-bench-echo", func(ctx context.Context, a bytesArgs) error { return echoLoop(ctx, a.C) })

// echoLoop is echoBytes' loop, for an echo in this process too.
func echoLoop(ctx context.Context, c *pipe.Conn[[]byte]) error {
	for {
		rec, err := c.Peek(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.SendBytes(ctx, rec); err != nil {
			return err
		}
		c.Discard()
	}
}

// benchmarkPipePingPong measures a round trip of a size-byte message
// between two processes over a duplex pipe: SendBytes, then Peek and
// Release of the echo.
func benchmarkPipePingPong(b *testing.B, size int, strategy atomics.Strategy) {
	benchmarkRoundTrip(b, size, strategy, false)
}

// pipeCapacity is a ring that holds four size-byte messages (at least the
// default): a 1 MiB request needs a ring of more than 2 MiB.
func pipeCapacity(size int) int {
	c := pipe.DefaultCapacity
	for c < 4*(size+64) {
		c *= 2
	}
	return c
}

// benchmarkRoundTrip is benchmarkPipePingPong with the echo in another
// process, or (inProcess) in a goroutine of this one, as shmipc-go's
// one-stream benchmark runs its server.
func benchmarkRoundTrip(b *testing.B, size int, strategy atomics.Strategy, inProcess bool) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	a, c, err := pipe.New(pipe.Options[[]byte]{Codec: codec.Bytes{}, Wait: strategy, Capacity: pipeCapacity(size)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var wait func() error
	if inProcess {
		errs := make(chan error, 1)
		go func() {
			errs <- echoLoop(ctx, c)
			c.Close()
		}()
		wait = func() error { return <-errs }
	} else {
		p, err := echoBytes.Start(ctx, bytesArgs{C: c})
		if err != nil {
			b.Fatal(err)
		}
		wait = p.Wait
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
	if err := wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRequestResponse: a request of 64 B, 4 KiB, 64 KiB and 1 MiB
// answered by an echo of the same size, one in flight, with the echo in
// a goroutine of this process (inproc: the layout of shmipc-go's
// one-stream raw benchmark, which .ci/peers-shmipc runs beside it) and in
// another process (proc), beside the futex floor of the same run and the
// shared-memory one (floor/shm-spin), which tells the VM's states apart.
func BenchmarkRequestResponse(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%d/inproc", size), func(b *testing.B) { benchmarkRoundTrip(b, size, atomics.Park, true) })
		b.Run(fmt.Sprintf("size=%d/proc", size), func(b *testing.B) { benchmarkRoundTrip(b, size, atomics.Park, false) })
	}
	b.Run("floor/futex", bench.FutexPingPong)
	b.Run("floor/shm-spin", bench.ShmPingPong)
}

// BenchmarkPingPong64 compares the pipe's round trip with os.Pipe and a
// unix socket carrying the same 64 bytes, in the same run, beside two
// floors: a futex round trip and two processes spinning on one shared
// word (floor/shm-spin), whose p99 is the tail this machine puts on any
// round trip between two processes, however it waits.
func BenchmarkPingPong64(b *testing.B) {
	b.Run("pipe/park", func(b *testing.B) { benchmarkPipePingPong(b, 64, atomics.Park) })
	b.Run("pipe/spin", func(b *testing.B) { benchmarkPipePingPong(b, 64, atomics.Spin) })
	b.Run("ospipe", func(b *testing.B) { bench.PipePingPong(b, 64) })
	b.Run("unix", func(b *testing.B) { bench.UnixSocketPingPong(b, 64) })
	b.Run("floor/futex", bench.FutexPingPong)
	b.Run("floor/shm-spin", bench.ShmPingPong)
}
