package ringbuf_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// producerCounts are the producer counts of BenchmarkProducers.
var producerCounts = []int{1, 2, 3, 4, 8}

// producerRun is how many messages a batching producer hands WriteBatch
// at once: a 64-byte message's run is 4.5 KiB of ring.
const producerRun = 64

// BenchmarkProducers: 64-byte messages from 1, 2, 3, 4 and 8 producer
// goroutines (one ring handle each) of this process to a consumer process,
// each count beside the bufio unix socket written by as many goroutines,
// in the same run. b.N messages in all.
//
//	mpsc        Write per message: a claim and a publication each
//	mpsc-batch  WriteBatch of 64 messages: one claim, one publication
//	mpmc        Put per message (Vyukov's claim per slot)
//	mpmc-batch  PutBatch of 64 messages: one claim, a release store per slot, one wake;
//	            the consumer takes runs of up to 64 (GetBatchFunc)
//	unix-bufio  one bufio.Writer per goroutine over one socket
//	shm-stream  a bare stream through shared memory, a lane per producer, no
//	            header, claim or wait (bench.ShmStream); shm-stream-around:
//	            the same, written around the caches
func BenchmarkProducers(b *testing.B) {
	const size = 64
	for _, np := range producerCounts {
		b.Run(fmt.Sprintf("producers=%d/mpsc", np), func(b *testing.B) { benchmarkProducers(b, size, np, "mpsc") })
		b.Run(fmt.Sprintf("producers=%d/mpsc-batch", np), func(b *testing.B) { benchmarkProducers(b, size, np, "mpsc-batch") })
		b.Run(fmt.Sprintf("producers=%d/mpmc", np), func(b *testing.B) { benchmarkProducers(b, size, np, "mpmc") })
		b.Run(fmt.Sprintf("producers=%d/mpmc-batch", np), func(b *testing.B) { benchmarkProducers(b, size, np, "mpmc-batch") })
		b.Run(fmt.Sprintf("producers=%d/unix-bufio", np), func(b *testing.B) { bench.UnixSocketStreamProducers(b, size, np) })
		b.Run(fmt.Sprintf("producers=%d/shm-stream", np), func(b *testing.B) { bench.ShmStream(b, size, np, false) })
		b.Run(fmt.Sprintf("producers=%d/shm-stream-around", np), func(b *testing.B) { bench.ShmStream(b, size, np, true) })
	}
}

func benchmarkProducers(b *testing.B, size, np int, kind string) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	seg, err := shm.CreateAnon(int64(ringCapacity(size) + 1<<16))
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	done, err := shm.CreateAnon(64)
	if err != nil {
		b.Fatal(err)
	}
	defer done.Close()
	a := streamArgs{Done: done, InPlace: true, Size: size}
	// write(g) sends n messages through producer g's own handle.
	var write func(ctx context.Context, g, n int) error
	var closeAll func()
	switch kind {
	case "mpsc", "mpsc-batch":
		r, err := ringbuf.NewMPSC(seg, "r", ringCapacity(size), ringbuf.WithProducers(np+1))
		if err != nil {
			b.Fatal(err)
		}
		a.MPSC = r
		hs := openProducers(b, np, func() (*ringbuf.MPSC, error) { return ringbuf.OpenMPSC(seg, "r") })
		closeAll = func() { closeEach(hs); r.CloseWrite() }
		write = func(ctx context.Context, g, n int) error {
			msg := make([]byte, size)
			if kind == "mpsc" {
				for i := 0; i < n; i++ {
					if err := hs[g].Write(ctx, msg); err != nil {
						return err
					}
				}
				return nil
			}
			return putRuns(ctx, msg, n, hs[g].WriteBatch)
		}
	case "mpmc", "mpmc-batch":
		r, err := ringbuf.NewMPMC(seg, "r", 32768, size, ringbuf.WithProducers(np+2))
		if err != nil {
			b.Fatal(err)
		}
		a.MPMC, a.Batch = r, kind == "mpmc-batch"
		hs := openProducers(b, np, func() (*ringbuf.MPMC, error) { return ringbuf.OpenMPMC(seg, "r") })
		closeAll = func() { closeEach(hs); r.Close() }
		write = func(ctx context.Context, g, n int) error {
			msg := make([]byte, size)
			if kind == "mpmc" {
				for i := 0; i < n; i++ {
					if err := hs[g].Put(ctx, msg); err != nil {
						return err
					}
				}
				return nil
			}
			return putRuns(ctx, msg, n, hs[g].PutBatch)
		}
	}
	p, err := streamPeer.Start(context.Background(), a)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	awaitStreamReady(b, p, done)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := benchutil.Producers(np, b.N, func(g, n int) error { return write(ctx, g, n) }); err != nil {
		b.Fatal(err)
	}
	closeAll()
	awaitStreamDone(b, p, done, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, size, elapsed)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// putRuns sends msg n times through put, producerRun at a time (put
// takes as many as fit and says how many).
func putRuns(ctx context.Context, msg []byte, n int, put func(context.Context, [][]byte) (int, error)) error {
	run := make([][]byte, producerRun)
	for i := range run {
		run[i] = msg
	}
	for n > 0 {
		k, err := put(ctx, run[:min(n, len(run))])
		if err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// producerHandle is a ring handle that produces: *MPSC or *MPMC.
type producerHandle interface {
	AttachProducer() error
	Close() error
}

// openProducers opens np handles with open, each attached as a producer.
func openProducers[H producerHandle](b *testing.B, np int, open func() (H, error)) []H {
	hs := make([]H, np)
	for g := range hs {
		h, err := open()
		if err == nil {
			err = h.AttachProducer()
		}
		if err != nil {
			b.Fatal(err)
		}
		hs[g] = h
	}
	return hs
}

// closeEach closes every handle of hs.
func closeEach[H producerHandle](hs []H) {
	for _, h := range hs {
		h.Close()
	}
}

// The words of streamPeer's done segment, at these offsets: the messages
// it consumed plus one (u64), stored before finished (u32) is set; ready
// (u32), set once it runs, before it reads.
const (
	streamCount    = 0
	streamFinished = 8
	streamReady    = 16
)

// awaitStreamReady waits until streamPeer runs, so that a benchmark's
// clock does not count the start of its process (tens of milliseconds:
// most of a run of a few million messages).
func awaitStreamReady(b *testing.B, p *process.Process, done *shm.Segment) {
	awaitPeerFlag(b, p, atomics.MustUint32At(done.Bytes(), streamReady))
}

// awaitPeerFlag waits until flag is set by streamPeer, failing b if the
// process dies first.
func awaitPeerFlag(b *testing.B, p *process.Process, flag *atomic.Uint32) {
	for flag.Load() == 0 {
		// No timeout context (it would allocate inside the timed region):
		// an Await without one still returns every 250 ms.
		atomics.Await(context.Background(), flag, 0, nil)
		if !p.Alive() && flag.Load() == 0 {
			b.Fatalf("consumer died: %v", p.Wait())
		}
	}
}

// awaitStreamDone waits for streamPeer's count and checks it is n.
func awaitStreamDone(b *testing.B, p *process.Process, done *shm.Segment, n int) {
	awaitPeerFlag(b, p, atomics.MustUint32At(done.Bytes(), streamFinished))
	if got := atomics.MustUint64At(done.Bytes(), streamCount).Load() - 1; got != uint64(n) {
		b.Fatalf("consumer got %d messages, sent %d", got, n)
	}
}
