package ringbuf_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// streamSizes are the message sizes of the throughput benchmarks.
var streamSizes = []int{8, 64, 4 << 10, 1 << 20}

// ringCapacity is the ring a stream of size-byte records runs through:
// 4 MiB (a thousand 4 KiB records, so that the two sides rarely meet), or
// room for 16 records of a larger size (16 MiB at 1 MiB: a 1 MiB record
// needs a ring of at least 4 MiB, see MaxRecord).
func ringCapacity(size int) int {
	c := 4 << 20
	for c/16 < size+16 {
		c *= 2
	}
	return c
}

// BenchmarkStream: one-way throughput, producer in this process, consumer
// in another; each beside the baselines of the same size in the same run.
//
//	ring-copy     Write (copy in) / Read (copy out)
//	ring-reserve  Reserve + the message written in place + Commit, under
//	              WithWriteBatch(64 KiB) / PeekBatch, each record used in
//	              place (its first and last byte read): the zero-copy path,
//	              one pass over the bytes instead of a copy on each side
//	ring-batch    Write under WithWriteBatch(64 KiB) (the tail published
//	              once per 64 KiB, like the bufio.Writer of unix-bufio) /
//	              PeekBatch in place
//	mpsc-reserve  as ring-reserve, through an MPSC ring (CAS on the tail),
//	              read with ReadBatch (PeekBatch is the SPSC's)
//	mpmc          Put / GetFunc in place, slots of the message size
func BenchmarkStream(b *testing.B) {
	for _, size := range streamSizes {
		b.Run(fmt.Sprintf("size=%d/ring-copy", size), func(b *testing.B) { benchmarkStream(b, size, "spsc", false) })
		b.Run(fmt.Sprintf("size=%d/ring-reserve", size), func(b *testing.B) { benchmarkStream(b, size, "spsc", true) })
		b.Run(fmt.Sprintf("size=%d/ring-batch", size), func(b *testing.B) { benchmarkStream(b, size, "spsc-batch", false) })
		b.Run(fmt.Sprintf("size=%d/mpsc-reserve", size), func(b *testing.B) { benchmarkStream(b, size, "mpsc", true) })
		if size <= 64<<10 {
			b.Run(fmt.Sprintf("size=%d/mpmc", size), func(b *testing.B) { benchmarkStream(b, size, "mpmc", true) })
		}
		b.Run(fmt.Sprintf("size=%d/unix", size), func(b *testing.B) { bench.UnixSocketStream(b, size, false) })
		b.Run(fmt.Sprintf("size=%d/unix-bufio", size), func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%d/pipe", size), func(b *testing.B) { bench.PipeStream(b, size, false) })
		b.Run(fmt.Sprintf("size=%d/pipe-bufio", size), func(b *testing.B) { bench.PipeStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%d/chan", size), func(b *testing.B) { bench.ChannelStream(b, size) })
	}
}

// BenchmarkPingPong: round trips of a 64-byte message through two SPSC
// rings, the peer echoing in place (Peek, Write, Discard), in spin and in
// park mode, beside the raw floors and the kernel baselines.
func BenchmarkPingPong(b *testing.B) {
	const size = 64
	b.Run("ring-spin", func(b *testing.B) { benchmarkPingPong(b, size, atomics.Spin) })
	b.Run("ring-park", func(b *testing.B) { benchmarkPingPong(b, size, atomics.Park) })
	b.Run("floor-shm-spin", bench.ShmPingPong)
	b.Run("floor-futex", bench.FutexPingPong)
	b.Run("unix", func(b *testing.B) { bench.UnixSocketPingPong(b, size) })
	b.Run("pipe", func(b *testing.B) { bench.PipePingPong(b, size) })
	b.Run("chan", func(b *testing.B) { bench.ChannelPingPong(b, size) })
}

type streamArgs struct {
	SPSC    *ringbuf.SPSC
	MPSC    *ringbuf.MPSC
	MPMC    *ringbuf.MPMC
	Done    *shm.Segment // word 0: messages consumed, stored at the end; see streamDone
	InPlace bool
	Size    int
	Batch   bool // MPMC: the consumer takes runs (GetBatchFunc)
}

// spinStreams (RB_SPIN=1 in the environment, which the consumer process
// inherits) makes both sides of the SPSC streams busy-spin instead of
// parking (atomics.Spin): an experiment's knob, off in the table.
var spinStreams = os.Getenv("RB_SPIN") != ""

// streamPeer drains the ring to io.EOF and publishes the count.
var streamPeer = process.Register("ringbuf-bench-stream", func(ctx context.Context, a streamArgs) error {
	ready := atomics.MustUint32At(a.Done.Bytes(), streamReady)
	ready.Store(1) // publishes: the consumer runs; the clock may start
	atomics.Wake(ready, -1)
	n := 0
	var sum byte
	var err error
	if spinStreams && a.SPSC != nil {
		a.SPSC.SetOptions(ringbuf.WithStrategy(atomics.Spin))
	}
	switch {
	case a.MPMC != nil && a.Batch:
		use := func(msg []byte) { sum += msg[len(msg)-1] }
		for {
			var k int
			if k, err = a.MPMC.GetBatchFunc(ctx, producerRun, use); err != nil {
				break
			}
			n += k
		}
	case a.MPMC != nil:
		for {
			if err = a.MPMC.GetFunc(ctx, func(msg []byte) { sum += msg[len(msg)-1] }); err != nil {
				break
			}
			n++
		}
	default:
		var r interface {
			ReadBatch(context.Context, func([]byte) bool) (int, error)
			Read(context.Context, []byte) (int, error)
		} = a.SPSC
		if a.MPSC != nil {
			r = a.MPSC
		}
		buf := make([]byte, a.Size)
		for err == nil {
			switch {
			case a.InPlace && a.MPSC == nil:
				var b *ringbuf.Batch
				if b, err = a.SPSC.PeekBatch(ctx); err == nil {
					for rec, ok := b.Next(); ok; rec, ok = b.Next() {
						sum += rec[0] + rec[len(rec)-1]
						n++
					}
					a.SPSC.DiscardBatch()
				}
			case a.InPlace:
				var k int
				k, err = r.ReadBatch(ctx, func(rec []byte) bool { sum += rec[0] + rec[len(rec)-1]; return true })
				n += k
			default:
				if _, err = r.Read(ctx, buf); err == nil {
					sum += buf[a.Size-1]
					n++
				}
			}
		}
	}
	w := atomics.MustUint64At(a.Done.Bytes(), streamCount)
	w.Store(uint64(n) + 1)
	flag := atomics.MustUint32At(a.Done.Bytes(), streamFinished)
	flag.Store(1) // publishes: the count above; then wake the parent
	atomics.Wake(flag, -1)
	_ = sum
	return nil
})

func benchmarkStream(b *testing.B, size int, kind string, inPlace bool) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	segSize := int64(ringCapacity(size) + 1<<16)
	if kind == "mpmc" {
		segSize = int64(1024*(size+16) + 1<<16)
	}
	seg, err := shm.CreateAnon(segSize)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	done, err := shm.CreateAnon(64)
	if err != nil {
		b.Fatal(err)
	}
	defer done.Close()
	a := streamArgs{Done: done, InPlace: inPlace, Size: size}
	var write func(ctx context.Context, p []byte) error
	var seq uint64
	var closeW func() error
	switch kind {
	case "spsc":
		var opts []ringbuf.Option
		if inPlace { // zero copy and batched, as unix-bufio is batched
			opts = append(opts, ringbuf.WithWriteBatch(64<<10))
		}
		r, err := ringbuf.NewSPSC(seg, "r", ringCapacity(size), opts...)
		if err != nil {
			b.Fatal(err)
		}
		a.SPSC, write, closeW = r, r.Write, r.CloseWrite
		if spinStreams {
			r.SetOptions(ringbuf.WithStrategy(atomics.Spin))
		}
		if inPlace {
			write = func(ctx context.Context, p []byte) error {
				buf, err := r.Reserve(ctx, len(p))
				if err != nil {
					return err
				}
				copy(buf, p) // the message built in place
				seq++
				binary.LittleEndian.PutUint64(buf, seq)
				r.Commit()
				return nil
			}
		}
	case "spsc-batch":
		r, err := ringbuf.NewSPSC(seg, "r", ringCapacity(size), ringbuf.WithWriteBatch(64<<10))
		if err != nil {
			b.Fatal(err)
		}
		a.SPSC, a.InPlace, write, closeW = r, true, r.Write, r.CloseWrite
	case "mpsc":
		r, err := ringbuf.NewMPSC(seg, "r", ringCapacity(size))
		if err != nil {
			b.Fatal(err)
		}
		a.MPSC, write, closeW = r, r.Write, r.CloseWrite
		if inPlace {
			write = func(ctx context.Context, p []byte) error {
				buf, err := r.Reserve(ctx, len(p))
				if err != nil {
					return err
				}
				copy(buf, p) // the message built in place
				seq++
				binary.LittleEndian.PutUint64(buf, seq)
				r.Commit()
				return nil
			}
		}
	case "mpmc":
		r, err := ringbuf.NewMPMC(seg, "r", 1024, size)
		if err != nil {
			b.Fatal(err)
		}
		a.MPMC, write, closeW = r, r.Put, r.Close
	}
	p, err := streamPeer.Start(context.Background(), a)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	awaitStreamReady(b, p, done)
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := write(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	closeW()
	awaitStreamDone(b, p, done, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, size, elapsed)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

type pingArgs struct {
	Ping, Pong *ringbuf.SPSC
	Strategy   atomics.Strategy
}

// pingPeer echoes every record of Ping into Pong, in place, until io.EOF.
var pingPeer = process.Register("ringbuf-bench-ping", func(ctx context.Context, a pingArgs) error {
	a.Ping.SetOptions(ringbuf.WithStrategy(a.Strategy))
	a.Pong.SetOptions(ringbuf.WithStrategy(a.Strategy))
	for {
		rec, err := a.Ping.Peek(ctx)
		if err != nil {
			return a.Pong.CloseWrite()
		}
		if err := a.Pong.Write(ctx, rec); err != nil {
			return err
		}
		a.Ping.Discard()
	}
})

func benchmarkPingPong(b *testing.B, size int, s atomics.Strategy) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	seg, err := shm.CreateAnon(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	ping, err1 := ringbuf.NewSPSC(seg, "ping", 1<<16, ringbuf.WithStrategy(s))
	pong, err2 := ringbuf.NewSPSC(seg, "pong", 1<<16, ringbuf.WithStrategy(s))
	if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	p, err := pingPeer.Start(context.Background(), pingArgs{Ping: ping, Pong: pong, Strategy: s})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	msg, reply := make([]byte, size), make([]byte, size)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One round trip before the clock starts: the peer is up.
	if err := ping.Write(ctx, msg); err != nil {
		b.Fatal(err)
	}
	if _, err := pong.Read(ctx, reply); err != nil {
		b.Fatal(err)
	}
	lat := benchutil.NewLatency()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		msg[0] = byte(i)
		if err := ping.Write(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := pong.Read(ctx, reply); err != nil {
			b.Fatal(err)
		}
		lat.Record(time.Since(t0))
		if reply[0] != byte(i) {
			b.Fatalf("echo %d, sent %d", reply[0], byte(i))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, size, elapsed)
	lat.Report(b)
	ping.CloseWrite()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}
