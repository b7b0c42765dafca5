package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

type msg64 = [64]byte

type drainArgs struct {
	Q   *queue.Queue[msg64]
	Ack *queue.Queue[int64]
}

// drain64 is the consumer process of the stream benchmark: it says it is
// ready, gets until the queue is closed, and reports how many it got.
var drain64 = process.Register("queue-bench-drain", func(ctx context.Context, a drainArgs) error {
	if err := a.Ack.Put(ctx, -1); err != nil {
		return err
	}
	var n int64
	var v msg64
	for {
		err := a.Q.GetInto(ctx, &v)
		if errors.Is(err, queue.ErrClosed) {
			break
		}
		if err != nil {
			return err
		}
		n++
	}
	return a.Ack.Put(ctx, n)
})

// benchmarkQueueStream measures one-way throughput of [64]byte messages
// from this process to a consumer process, binary codec (the 64 bytes as
// they are), ring of 4096 slots.
func benchmarkQueueStream(b *testing.B, strategy atomics.Strategy) {
	seg, err := shm.CreateAnon(2 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	q, err := queue.Create(seg, "q", queue.Options[msg64]{MaxSize: 4096, Wait: strategy})
	if err != nil {
		b.Fatal(err)
	}
	ack, _ := queue.Create(seg, "ack", queue.Options[int64]{MaxSize: 4})
	ctx := context.Background()
	p, err := drain64.Start(ctx, drainArgs{Q: q, Ack: ack})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ack.Get(ctx); err != nil {
		b.Fatal(err)
	}
	var m msg64
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m[0] = byte(i)
		if err := q.Put(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	q.Close()
	n, err := ack.Get(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || n != int64(b.N) {
		b.Fatalf("consumer got %d of %d (%v)", n, b.N, err)
	}
	benchutil.ReportRate(b, b.N, 64, elapsed)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStream64 compares Queue[[64]byte] across two processes with a
// unix socket and os.Pipe carrying the same 64 bytes per message (what the
// binary codec writes) in the same run. Python's multiprocessing.Queue
// moves about 0.11 M msgs/s on the 2-core machine this was written on.
func BenchmarkStream64(b *testing.B) {
	b.Run("queue/park", func(b *testing.B) { benchmarkQueueStream(b, atomics.Park) })
	b.Run("queue/spin", func(b *testing.B) { benchmarkQueueStream(b, atomics.Spin) })
	b.Run("unix", func(b *testing.B) { bench.UnixSocketStream(b, 64, false) })
	b.Run("unix-bufio", func(b *testing.B) { bench.UnixSocketStream(b, 64, true) })
	b.Run("ospipe", func(b *testing.B) { bench.PipeStream(b, 64, false) })
}

// BenchmarkPutGetInt64 is Put then Get of an int64 with the binary codec in
// one process: the codec and ring path, which must not allocate.
func BenchmarkPutGetInt64(b *testing.B) {
	seg, err := shm.CreateAnon(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	q, _ := queue.Create(seg, "q", queue.Options[int64]{})
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := q.Put(ctx, int64(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
	benchutil.ReportRate(b, b.N, 8, time.Since(start))
}
