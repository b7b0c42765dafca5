package pipe_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
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

// sink receives messages, and after each empty one sends back how many it
// got since the last; it ends at io.EOF.
var sink = process.Register("pipe-bench-sink", func(ctx context.Context, a sinkArgs) error {
	var n int64
	var seen int
	marker := []byte{0xfe}
	for {
		var m []byte
		var err error
		if a.InPlace {
			m, err = a.C.Peek(ctx)
		} else {
			m, err = a.C.RecvBytes(ctx)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		end := len(m) == 0
		// Read every byte, as the socket's reader and the copy do: a
		// receive that looks at one byte maps one page of the block
		// where a reader of the message maps all.
		seen += bytes.Count(m, marker)
		if a.InPlace {
			a.C.Discard()
		}
		if !end {
			n++
			continue
		}
		if err := a.C.SendBytes(ctx, strconv.AppendInt(nil, n, 10)); err != nil {
			return err
		}
		n = 0
	}
})

// streamRig is a pipe and its receiving process, kept across the rounds
// of one benchmark so that the arena's pages are reserved once (a first
// touch of a page costs far more than a copy into it) and the figure is
// the steady state.
type streamRig struct {
	a, c *pipe.Conn[[]byte]
	p    *process.Process
	msg  []byte
}

func startStreamRig(b *testing.B, size int, inPlace bool) *streamRig {
	a, c, err := pipe.New(pipe.Options[[]byte]{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := sink.Start(context.Background(), sinkArgs{C: c, InPlace: inPlace})
	if err != nil {
		b.Fatal(err)
	}
	r := &streamRig{a: a, c: c, p: p, msg: make([]byte, size)}
	for i := range r.msg {
		r.msg[i] = byte(i)
	}
	r.round(b, min(512, max(8, 2*(256<<20)/size))) // warm up: the child running, the arena's pages reserved and mapped in both processes (see queue's warmRounds)
	return r
}

// round sends n messages and the empty one that ends a round, and waits
// for the receiver's count.
func (r *streamRig) round(b *testing.B, n int) {
	ctx := context.Background()
	for range n {
		if err := r.a.SendBytes(ctx, r.msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.a.SendBytes(ctx, nil); err != nil {
		b.Fatal(err)
	}
	got, err := r.a.RecvBytes(ctx)
	if err != nil || string(got) != strconv.Itoa(n) {
		b.Fatalf("the receiver got %q of %d (%v)", got, n, err)
	}
}

func (r *streamRig) run(b *testing.B) {
	b.SetBytes(int64(len(r.msg)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	r.round(b, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, len(r.msg), elapsed)
}

func (r *streamRig) stop(b *testing.B) {
	r.a.Close()
	if err := r.p.Wait(); err != nil {
		b.Fatal(err)
	}
	r.c.Close()
}

// BenchmarkStream measures one-way throughput through a pipe made by New
// with default options: 64-byte messages (in the ring) and 1 MiB and 16
// MiB ones (out of line, in the pipe's arena), received with RecvBytes (a
// copy out, into a new slice) and with Peek/Discard (read in place),
// beside a bufio unix socket and copy bandwidth in the same run.
func BenchmarkStream(b *testing.B) {
	for _, size := range []int{64, 1 << 20, 16 << 20} {
		unit := fmt.Sprintf("%dB", size)
		if size >= 1<<20 {
			unit = fmt.Sprintf("%dMiB", size>>20)
		}
		for _, inPlace := range []bool{false, true} {
			name := "size=" + unit + "/pipe/recv"
			if inPlace {
				name = "size=" + unit + "/pipe/peek"
			}
			r := startStreamRig(b, size, inPlace)
			b.Run(name, r.run)
			r.stop(b)
		}
		b.Run("size="+unit+"/unix-bufio", func(b *testing.B) { bench.UnixSocketStream(b, size, true) })
		if size >= 1<<20 {
			b.Run("size="+unit+"/floor/copy", func(b *testing.B) { bench.CopyBandwidth(b, size) })
		}
	}
}
