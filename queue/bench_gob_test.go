package queue_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
)

// record is a message that is not fixed-size: the queue carries it with the
// gob codec, as Python's Queue carries objects with pickle.
type record struct {
	ID   int64
	Name string
}

// gobSockDrain reads length-prefixed gob records from a unix socket,
// decodes each with the same codec, and writes back how many it got.
var gobSockDrain = process.Register("queue-bench-gob-sock", func(ctx context.Context, _ int) error {
	f := process.File(0)
	c, err := net.FileConn(f)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	var cd codec.Gob[record]
	var hdr [4]byte
	var buf []byte
	var v record
	var n uint64
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		buf = append(buf[:0], make([]byte, binary.LittleEndian.Uint32(hdr[:]))...)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		if err := cd.Decode(buf, &v); err != nil {
			return err
		}
		n++
	}
	var ack [8]byte
	binary.LittleEndian.PutUint64(ack[:], n)
	_, err = c.Write(ack[:])
	return err
})

func benchmarkUnixGob(b *testing.B, batched bool) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	mine, peer := os.NewFile(uintptr(fds[0]), "gob-unix"), os.NewFile(uintptr(fds[1]), "gob-unix-peer")
	p, err := gobSockDrain.Start(context.Background(), 0, process.WithFiles(peer))
	peer.Close()
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		b.Fatal(err)
	}
	uc := c.(*net.UnixConn)
	defer uc.Close()
	var w io.Writer = uc
	var bw *bufio.Writer
	if batched {
		bw = bufio.NewWriterSize(uc, 64<<10)
		w = bw
	}
	var cd codec.Gob[record]
	var frame []byte
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		v := record{ID: int64(i), Name: "task"}
		frame, err = cd.Append(append(frame[:0], 0, 0, 0, 0), &v)
		if err != nil {
			b.Fatal(err)
		}
		binary.LittleEndian.PutUint32(frame, uint32(len(frame)-4))
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	if bw != nil {
		bw.Flush()
	}
	uc.CloseWrite()
	var ack [8]byte
	if _, err := io.ReadFull(uc, ack[:]); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := binary.LittleEndian.Uint64(ack[:]); n != uint64(b.N) {
		b.Fatalf("peer decoded %d of %d", n, b.N)
	}
	benchutil.ReportRate(b, b.N, 0, elapsed)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStreamGob is BenchmarkStream64 for a struct holding a string,
// carried with the gob codec by the queue and, in the same run, by a unix
// socket (length-prefixed frames encoded and decoded with the same codec):
// the closest Go counterpart of Python's Queue pickling objects.
func BenchmarkStreamGob(b *testing.B) {
	b.Run("queue", func(b *testing.B) {
		benchmarkQueueStream(b, drainGob, atomics.Park, 4096, 128, 0, func(i int) record { return record{ID: int64(i), Name: "task"} })
	})
	b.Run("unix", func(b *testing.B) { benchmarkUnixGob(b, false) })
	b.Run("unix-bufio", func(b *testing.B) { benchmarkUnixGob(b, true) })
}
