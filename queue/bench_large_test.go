package queue_test

import (
	"bytes"
	"context"
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
// messages, decoding into one reused slice (a copy) or reading each in
// place (every byte), and after each empty message reports how many
// it got since the last; it ends when the queue is shut down.
var drainLarge = process.Register("queue-bench-drain-large", func(ctx context.Context, a largeDrainArgs) error {
	var n int64
	var v []byte
	var seen int
	marker := []byte{0xfe}
	for {
		var err error
		var l int
		if a.InPlace {
			err = a.Q.GetFunc(ctx, func(msg []byte) error {
				// Read every byte, as the socket's reader and the copy
				// do: a receive that looks at one byte maps one page
				// of the block where a reader of the message maps all.
				l = len(msg)
				seen += bytes.Count(msg, marker)
				return nil
			})
		} else {
			err = a.Q.GetInto(ctx, &v)
			l = len(v)
		}
		if err == queue.ErrShutdown {
			return nil
		}
		if err != nil {
			return err
		}
		if l == 0 {
			if err := a.Ack.Put(ctx, n); err != nil {
				return err
			}
			n = 0
			continue
		}
		n++
	}
})

// largeRig is a queue and its consumer process, kept across the rounds
// of one benchmark so that the arena's pages are reserved once (on the
// machines this runs on a first touch of a page costs far more than a
// copy into it) and the figure is the steady state.
type largeRig struct {
	ack *queue.Queue[int64]
	big *queue.Queue[[]byte]
	p   *process.Process
	msg []byte
}

func startLargeRig(b *testing.B, size int, inPlace bool) *largeRig {
	big, err := queue.New(queue.Options[[]byte]{MaxSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	ack, err := queue.New(queue.Options[int64]{MaxSize: 4})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p, err := drainLarge.Start(ctx, largeDrainArgs{Q: big, Ack: ack, InPlace: inPlace})
	if err != nil {
		b.Fatal(err)
	}
	r := &largeRig{ack: ack, big: big, p: p, msg: make([]byte, size)}
	for i := range r.msg {
		r.msg[i] = byte(i)
	}
	r.round(b, warmRounds(size)) // warm up: the child running, the arena's pages reserved and mapped in both processes
	return r
}

// warmRounds is how many messages a rig sends before it is timed: enough
// to cover twice the pages a default arena (256 MiB) holds, as a stream
// that fills it does, so that the timed rounds do not pay the first touch
// of a page in each process (tens of microseconds a page on a virtual
// machine with shadow paging, where it dwarfs the copy).
func warmRounds(size int) int { return min(512, max(8, 2*(256<<20)/size)) }

// round sends n messages and the empty one that ends a round, and waits
// for the consumer's count.
func (r *largeRig) round(b *testing.B, n int) {
	ctx := context.Background()
	for range n {
		if err := r.big.Put(ctx, r.msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.big.Put(ctx, nil); err != nil {
		b.Fatal(err)
	}
	if got, err := r.ack.Get(ctx); err != nil || got != int64(n) {
		b.Fatalf("consumer got %d of %d (%v)", got, n, err)
	}
}

func (r *largeRig) run(b *testing.B) {
	b.SetBytes(int64(len(r.msg)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	r.round(b, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, len(r.msg), elapsed)
}

func (r *largeRig) stop(b *testing.B) {
	r.big.Shutdown()
	if err := r.p.Wait(); err != nil {
		b.Fatal(err)
	}
	r.big.Close()
	r.ack.Close()
}

// BenchmarkStreamLarge measures 1 MiB and 16 MiB messages from one
// process to another through a queue made by New (out of line, in the
// queue's arena): received with GetInto (a copy out) and with GetFunc
// (read in place), beside a bufio unix socket and copy bandwidth, the
// floor, in the same run.
func BenchmarkStreamLarge(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		for _, inPlace := range []bool{false, true} {
			name := fmt.Sprintf("size=%dMiB/queue/get", size>>20)
			if inPlace {
				name = fmt.Sprintf("size=%dMiB/queue/getfunc", size>>20)
			}
			r := startLargeRig(b, size, inPlace)
			b.Run(name, r.run)
			r.stop(b)
		}
		b.Run(fmt.Sprintf("size=%dMiB/unix-bufio", size>>20), func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		b.Run(fmt.Sprintf("size=%dMiB/floor/copy", size>>20), func(b *testing.B) { bench.CopyBandwidth(b, size) })
	}
}
