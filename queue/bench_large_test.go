package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

type largeDrainArgs struct {
	Q       *queue.Queue[[]byte]
	Ack     *queue.Queue[int64]
	InPlace bool // GetFunc (the zero-copy receive) rather than GetInto
}

// drainLarge is the consumer process of BenchmarkStreamLarge: it gets
// until the queue is shut down, decoding into one reused slice (a copy)
// or reading each message in place (its length and first byte).
var drainLarge = process.Register("queue-bench-drain-large", func(ctx context.Context, a largeDrainArgs) error {
	if err := a.Ack.Put(ctx, -1); err != nil {
		return err
	}
	var n int64
	var v []byte
	var sum byte
	for {
		var err error
		if a.InPlace {
			err = a.Q.GetFunc(ctx, func(msg []byte) error {
				if len(msg) > 0 {
					sum += msg[0]
				}
				return nil
			})
		} else {
			err = a.Q.GetInto(ctx, &v)
		}
		if errors.Is(err, queue.ErrShutdown) {
			break
		}
		if err != nil {
			return err
		}
		n++
	}
	_ = sum
	return a.Ack.Put(ctx, n)
})

// benchmarkStreamLarge streams size-byte messages from this process to a
// consumer process through a queue made by New with default options:
// every message goes out of line.
func benchmarkStreamLarge(b *testing.B, size int, inPlace bool) {
	q, err := queue.New(queue.Options[[]byte]{MaxSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ack, err := queue.New(queue.Options[int64]{MaxSize: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer ack.Close()
	ctx := context.Background()
	p, err := drainLarge.Start(ctx, largeDrainArgs{Q: q, Ack: ack, InPlace: inPlace})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ack.Get(ctx); err != nil {
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
		if err := q.Put(ctx, msg); err != nil {
			b.Fatal(err)
		}
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

// BenchmarkStreamLarge measures 1 MiB and 16 MiB messages from one
// process to another through a default queue (out of line, in the queue's
// arena): received with GetInto (a copy out) and with GetFunc (read in
// place), beside a bufio unix socket and copy bandwidth, the floor, in the
// same run.
func BenchmarkStreamLarge(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("size=%dMiB/queue/get", size>>20), func(b *testing.B) { benchmarkStreamLarge(b, size, false) })
		b.Run(fmt.Sprintf("size=%dMiB/queue/getfunc", size>>20), func(b *testing.B) { benchmarkStreamLarge(b, size, true) })
		b.Run(fmt.Sprintf("size=%dMiB/unix-bufio", size>>20), func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%dMiB/floor/copy", size>>20), func(b *testing.B) { bench.CopyBandwidth(b, size) })
	}
}
