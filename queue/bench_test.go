package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

type msg64 = [64]byte

type drainArgs[T any] struct {
	Q     *queue.Queue[T]
	Ack   *queue.Queue[int64]
	Batch int // > 0: GetBatch of Batch values at a time
}

// drain is the consumer process of the stream benchmarks: it says it is
// ready, gets until the queue is closed, and reports how many it got.
func drain[T any](ctx context.Context, a drainArgs[T]) error {
	if err := a.Ack.Put(ctx, -1); err != nil {
		return err
	}
	var n int64
	vs := make([]T, max(a.Batch, 1))
	for {
		k, err := 1, error(nil)
		if a.Batch > 0 {
			k, err = a.Q.GetBatch(ctx, vs)
		} else {
			err = a.Q.GetInto(ctx, &vs[0])
		}
		if errors.Is(err, queue.ErrShutdown) {
			break
		}
		if err != nil {
			return err
		}
		n += int64(k)
	}
	return a.Ack.Put(ctx, n)
}

var (
	drain64  = process.Register("queue-bench-drain", drain[msg64])
	drainGob = process.Register("queue-bench-gob-drain", drain[record])
)

// benchmarkQueueStream measures one-way throughput from this process to a
// consumer process (w) of the messages msg(i) makes, through a queue of
// maxSize messages (0: the default) of maxMessage bytes.
func benchmarkQueueStream[T any](b *testing.B, w *process.Func[drainArgs[T]], strategy atomics.Strategy, maxSize, maxMessage, size int, msg func(i int) T) {
	benchmarkQueueProducers(b, w, strategy, maxSize, maxMessage, size, 1, 0, 0, msg)
}

// benchmarkQueueProducers is benchmarkQueueStream with producers
// goroutines putting at once, each through a handle of its own (Open), b.N
// messages in all; batch > 0 puts them batch at a time with PutBatch, and
// getBatch > 0 has the consumer get them getBatch at a time with GetBatch.
func benchmarkQueueProducers[T any](b *testing.B, w *process.Func[drainArgs[T]], strategy atomics.Strategy, maxSize, maxMessage, size, producers, batch, getBatch int, msg func(i int) T) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	seg, err := shm.CreateAnon(2 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	q, err := queue.Create(seg, "q", queue.Options[T]{MaxSize: maxSize, MaxMessage: maxMessage, Wait: strategy})
	if err != nil {
		b.Fatal(err)
	}
	ack, _ := queue.Create(seg, "ack", queue.Options[int64]{MaxSize: 4})
	ctx := context.Background()
	p, err := w.Start(ctx, drainArgs[T]{Q: q, Ack: ack, Batch: getBatch})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ack.Get(ctx); err != nil {
		b.Fatal(err)
	}
	if size > 0 {
		b.SetBytes(int64(size))
	}
	b.ReportAllocs()
	b.ResetTimer()
	hs := []*queue.Queue[T]{q}
	for len(hs) < producers {
		h, err := queue.Open(seg, "q", queue.Options[T]{Wait: strategy})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		hs = append(hs, h)
	}
	start := time.Now()
	err = benchutil.Producers(producers, b.N, func(g, n int) error {
		if batch > 0 {
			vs := make([]T, batch)
			for i := range vs {
				vs[i] = msg(i)
			}
			for n > 0 {
				k, err := hs[g].PutBatch(ctx, vs[:min(n, batch)])
				if err != nil {
					return err
				}
				n -= k
			}
			return nil
		}
		// The messages are made before the loop, as PutBatch's are: a
		// value returned by msg(i) is read back just after its bytes
		// were stored, a load the CPU cannot forward, so it waits for
		// every store before it, the last Put's slot among them.
		var ms [64]T
		for i := range ms {
			ms[i] = msg(i)
		}
		for i := 0; i < n; i++ {
			if err := hs[g].Put(ctx, ms[i%len(ms)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	q.Shutdown()
	n, err := ack.Get(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || n != int64(b.N) {
		b.Fatalf("consumer got %d of %d (%v)", n, b.N, err)
	}
	benchutil.ReportRate(b, b.N, size, elapsed)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

func stream64(b *testing.B, strategy atomics.Strategy, maxSize int) {
	benchmarkQueueStream(b, drain64, strategy, maxSize, 0, 64, msgAt)
}

// msgAt is the i-th message of the stream benchmarks: a value of its own
// for each call. (One variable that the producers' closure set a byte of
// and then copied out was shared by every producer goroutine, a race and
// a line they took from one another, and its copy stalled each Put on a
// load the CPU could not forward from the byte just stored.)
func msgAt(i int) msg64 { return msg64{0: byte(i)} }

// BenchmarkStream64 compares Queue[[64]byte] across two processes with a
// unix socket and os.Pipe carrying the same 64 bytes per message (what the
// binary codec writes) in the same run. Python's multiprocessing.Queue
// moves about 0.11 M msgs/s on the 2-core machine this was written on.
// queue/park and queue/spin hold up to 4096 messages; queue/default is
// Options{} (DefaultMaxSize); queue/max1000 a bound that is not a power of
// two, which the ring keeps with WithLimit.
func BenchmarkStream64(b *testing.B) {
	b.Run("queue/park", func(b *testing.B) { stream64(b, atomics.Park, 4096) })
	b.Run("queue/spin", func(b *testing.B) { stream64(b, atomics.Spin, 4096) })
	b.Run("queue/default", func(b *testing.B) { stream64(b, atomics.Park, 0) })
	b.Run("queue/max1000", func(b *testing.B) { stream64(b, atomics.Park, 1000) })
	b.Run("unix", func(b *testing.B) { bench.UnixSocketStream(b, 64, false) })
	b.Run("unix-bufio", func(b *testing.B) { bench.UnixSocketStream(b, 64, true) })
	b.Run("ospipe", func(b *testing.B) { bench.PipeStream(b, 64, false) })
}

// BenchmarkProducers: Queue[[64]byte] filled by 1, 2, 3, 4 and 8 producer
// goroutines (a handle each) and drained by a consumer process, each count
// beside the bufio unix socket written by as many goroutines in the same
// run. b.N messages in all.
//
//	queue           Put each, Get each
//	queue-batch     PutBatch of 64 values, GetBatch of 64
//	queue-putbatch  PutBatch of 64 values, Get each: producers with
//	                several at hand, a consumer that takes one at a time
//	shm-stream      a bare stream of 64-byte messages through shared
//	                memory, a lane per producer, no header, claim or wait
//	                (bench.ShmStream); shm-stream-around: the same,
//	                written around the caches
func BenchmarkProducers(b *testing.B) {
	for _, np := range []int{1, 2, 3, 4, 8} {
		for _, v := range []struct {
			name          string
			batch, getRun int
		}{{"queue", 0, 0}, {"queue-batch", 64, 64}, {"queue-putbatch", 64, 0}} {
			b.Run(fmt.Sprintf("producers=%d/%s", np, v.name), func(b *testing.B) {
				benchmarkQueueProducers(b, drain64, atomics.Park, 4096, 0, 64, np, v.batch, v.getRun, msgAt)
			})
		}
		b.Run(fmt.Sprintf("producers=%d/unix-bufio", np), func(b *testing.B) { bench.UnixSocketStreamProducers(b, 64, np) })
		b.Run(fmt.Sprintf("producers=%d/shm-stream", np), func(b *testing.B) { bench.ShmStream(b, 64, np, false) })
		b.Run(fmt.Sprintf("producers=%d/shm-stream-around", np), func(b *testing.B) { bench.ShmStream(b, 64, np, true) })
	}
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

type echoArgs struct{ Req, Rep *queue.Queue[msg64] }

// echo64 puts back every message it gets, until the request queue is shut
// down.
var echo64 = process.Register("queue-bench-echo", func(ctx context.Context, a echoArgs) error {
	for v, err := range a.Req.All(ctx) {
		if err != nil {
			return err
		}
		if err := a.Rep.Put(ctx, v); err != nil {
			return err
		}
	}
	return nil
})

// BenchmarkRoundTrip64 is a request of 64 bytes through one queue and its
// echo through another, one in flight, with the echo in another process:
// the latency of a Get that waits for each message (p50, p99), which a
// consumer's wait for a run (ringx.DataGate) must leave alone, beside a
// unix socket's round trip in the same run.
func BenchmarkRoundTrip64(b *testing.B) {
	b.Run("queue/park", func(b *testing.B) { roundTrip64(b, 64, 0) })
	// Slots of two whole lines (SlotSize 112) instead of packed 80-byte
	// ones: see Options.SlotSize.
	b.Run("queue/park-lines", func(b *testing.B) { roundTrip64(b, 64, 112) })
	// Options{}: a queue large enough for its consumer to keep its
	// distance from a stream (see Queue.Get), which one message in
	// flight must not set off.
	b.Run("queue/default", func(b *testing.B) { roundTrip64(b, 0, 0) })
	b.Run("unix", func(b *testing.B) { bench.UnixSocketPingPong(b, 64) })
}

// roundTrip64 is BenchmarkRoundTrip64 through queues of the given
// MaxSize and SlotSize.
func roundTrip64(b *testing.B, maxSize, slotSize int) {
	benchutil.ReportFloor(b)
	seg, err := shm.CreateAnon(2 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	req, err := queue.Create(seg, "req", queue.Options[msg64]{MaxSize: maxSize, SlotSize: slotSize})
	if err != nil {
		b.Fatal(err)
	}
	rep, err := queue.Create(seg, "rep", queue.Options[msg64]{MaxSize: maxSize, SlotSize: slotSize})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p, err := echo64.Start(ctx, echoArgs{Req: req, Rep: rep})
	if err != nil {
		b.Fatal(err)
	}
	var m msg64
	// One round trip first, so that the child is up before the clock runs.
	if err := req.Put(ctx, m); err != nil {
		b.Fatal(err)
	}
	if _, err := rep.Get(ctx); err != nil {
		b.Fatal(err)
	}
	lat := benchutil.NewLatency()
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m[0] = byte(i)
		if err := req.Put(ctx, m); err != nil {
			b.Fatal(err)
		}
		if err := rep.GetInto(ctx, &m); err != nil {
			b.Fatal(err)
		}
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, 64, elapsed)
	lat.Report(b)
	req.Shutdown()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}
