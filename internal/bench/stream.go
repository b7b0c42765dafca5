package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
)

// batchBuffer is the bufio size of the batched baselines.
const batchBuffer = 64 << 10

// transport names the kernel channel a baseline runs over.
type transport string

const (
	unixSocket transport = "unix" // socketpair(AF_UNIX, SOCK_STREAM)
	osPipe     transport = "pipe" // two os.Pipe, one each way
)

type ioArgs struct {
	Transport transport
	Size      int
	Stream    bool // drain and acknowledge, instead of echoing each message
	Batched   bool // read through a bufio.Reader
}

// ioPeer is the child side of the socket and pipe baselines. It says it is
// ready with one byte, then echoes each message (ping-pong) or drains the
// stream to end of file and answers with the byte count (stream).
var ioPeer = process.Register("shmkit-bench-io-peer", func(ctx context.Context, a ioArgs) error {
	var r io.Reader
	var w io.Writer
	switch a.Transport {
	case unixSocket:
		c, err := net.FileConn(process.File(0))
		if err != nil {
			return err
		}
		defer c.Close()
		r, w = c, c
	case osPipe:
		r, w = process.File(0), process.File(1)
	default:
		return fmt.Errorf("bench: unknown transport %q", a.Transport)
	}
	if a.Size <= 0 {
		return fmt.Errorf("bench: message size %d", a.Size)
	}
	if _, err := w.Write([]byte{1}); err != nil {
		return err
	}
	buf := make([]byte, a.Size)
	if !a.Stream {
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	if a.Batched {
		r = bufio.NewReaderSize(r, batchBuffer)
	}
	var total uint64
	for {
		n, err := io.ReadFull(r, buf)
		total += uint64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	var ack [8]byte
	binary.LittleEndian.PutUint64(ack[:], total)
	_, err := w.Write(ack[:])
	return err
})

// ioPair is the parent's side of a started peer.
type ioPair struct {
	r      io.Reader
	w      io.Writer
	closeW func() error // end of file for the peer
	closer func()
	p      *process.Process
}

func startIOPeer(b *testing.B, a ioArgs) *ioPair {
	b.Helper()
	if a.Size <= 0 {
		b.Fatalf("bench: message size %d", a.Size)
	}
	var pr ioPair
	var childFiles []*os.File
	switch a.Transport {
	case unixSocket:
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(os.NewSyscallError("socketpair", err))
		}
		mine := os.NewFile(uintptr(fds[0]), "bench-unix")
		childFiles = []*os.File{os.NewFile(uintptr(fds[1]), "bench-unix-peer")}
		c, err := net.FileConn(mine)
		mine.Close()
		if err != nil {
			b.Fatal(err)
		}
		uc := c.(*net.UnixConn)
		pr.r, pr.w, pr.closeW, pr.closer = uc, uc, uc.CloseWrite, func() { uc.Close() }
	case osPipe:
		toPeerR, toPeerW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		fromPeerR, fromPeerW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		childFiles = []*os.File{toPeerR, fromPeerW}
		pr.r, pr.w, pr.closeW = fromPeerR, toPeerW, toPeerW.Close
		pr.closer = func() { toPeerW.Close(); fromPeerR.Close() }
	}
	p, err := ioPeer.Start(context.Background(), a, process.WithFiles(childFiles...))
	for _, f := range childFiles {
		f.Close()
	}
	if err != nil {
		pr.closer()
		b.Fatal(err)
	}
	pr.p = p
	b.Cleanup(func() { // after a failed benchmark too: no peer outlives it
		pr.closer()
		p.Kill()
		p.Wait()
	})
	var one [1]byte
	if _, err := io.ReadFull(pr.r, one[:]); err != nil { // the peer is ready
		pr.closer()
		b.Fatalf("peer did not start: %v (%v)", err, p.Wait())
	}
	return &pr
}

// finish closes the parent's side and checks that the peer exited cleanly.
func (pr *ioPair) finish(b *testing.B) {
	pr.closeW()
	err := pr.p.Wait()
	pr.closer()
	if err != nil {
		b.Fatal(err)
	}
}

// UnixSocketPingPong measures a round trip of a size-byte message over a
// unix domain stream socket between two processes: each op writes the
// message and reads the peer's echo.
func UnixSocketPingPong(b *testing.B, size int) {
	ioPingPong(b, ioArgs{Transport: unixSocket, Size: size})
}

// PipePingPong is UnixSocketPingPong over two os.Pipe (one each way).
func PipePingPong(b *testing.B, size int) {
	ioPingPong(b, ioArgs{Transport: osPipe, Size: size})
}

// UnixSocketStream measures one-way throughput of size-byte messages over a
// unix domain stream socket to another process: one op is one message.
// Plain makes one write (and the peer one read) per message; batched goes
// through a 64 KiB bufio.Writer and bufio.Reader, the usual remedy.
func UnixSocketStream(b *testing.B, size int, batched bool) {
	ioStream(b, ioArgs{Transport: unixSocket, Size: size, Stream: true, Batched: batched})
}

// PipeStream is UnixSocketStream over an os.Pipe.
func PipeStream(b *testing.B, size int, batched bool) {
	ioStream(b, ioArgs{Transport: osPipe, Size: size, Stream: true, Batched: batched})
}

func ioPingPong(b *testing.B, a ioArgs) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	pr := startIOPeer(b, a)
	msg, reply := make([]byte, a.Size), make([]byte, a.Size)
	for i := range msg {
		msg[i] = byte(i)
	}
	lat := benchutil.NewLatency()
	b.SetBytes(int64(a.Size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := pr.w.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(pr.r, reply); err != nil {
			b.Fatal(err)
		}
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if reply[a.Size-1] != msg[a.Size-1] {
		b.Fatalf("echo differs: %d, sent %d", reply[a.Size-1], msg[a.Size-1])
	}
	benchutil.ReportRate(b, b.N, a.Size, elapsed)
	lat.Report(b)
	pr.finish(b)
}

// UnixSocketStreamProducers is the batched UnixSocketStream written by
// producers goroutines at once, each through a bufio.Writer of its own
// over the one socket (its 64 KiB writes serialised by the kernel): the
// baseline of rings with as many producers. b.N messages in all.
func UnixSocketStreamProducers(b *testing.B, size, producers int) {
	ioStream(b, ioArgs{Transport: unixSocket, Size: size, Stream: true, Batched: true}, producers)
}

func ioStream(b *testing.B, a ioArgs, producers ...int) {
	benchutil.ReportFloor(b) // before the peers start: the floor of this run
	pr := startIOPeer(b, a)
	np := 1
	if len(producers) > 0 {
		np = max(producers[0], 1)
	}
	b.SetBytes(int64(a.Size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := benchutil.Producers(np, b.N, func(_, n int) error { return writeStream(pr.w, a, n) }); err != nil {
		b.Fatal(err)
	}
	if err := pr.closeW(); err != nil {
		b.Fatal(err)
	}
	var ack [8]byte
	if _, err := io.ReadFull(pr.r, ack[:]); err != nil { // the peer has read everything
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got, want := binary.LittleEndian.Uint64(ack[:]), uint64(b.N)*uint64(a.Size); got != want {
		b.Fatalf("peer read %d bytes, sent %d", got, want)
	}
	benchutil.ReportRate(b, b.N, a.Size, elapsed)
	pr.finish(b)
}

// writeStream writes n messages of a.Size bytes to w, through a
// bufio.Writer of its own when a.Batched.
func writeStream(w io.Writer, a ioArgs, n int) error {
	msg := make([]byte, a.Size)
	var bw *bufio.Writer
	if a.Batched {
		bw = bufio.NewWriterSize(w, batchBuffer)
		w = bw
	}
	for i := 0; i < n; i++ {
		if _, err := w.Write(msg); err != nil {
			return err
		}
	}
	if bw != nil {
		return bw.Flush()
	}
	return nil
}

// ChannelStream is the in-process reference: size-byte messages copied into
// a pool of buffers, handed to another goroutine through a buffered channel,
// copied out there and returned through a second channel. One op is one
// message.
func ChannelStream(b *testing.B, size int) {
	const slots = 256
	pool := make([][]byte, slots)
	free := make(chan int, slots)
	full := make(chan int, slots)
	for i := range pool {
		pool[i] = make([]byte, size)
		free <- i
	}
	msg, out := make([]byte, size), make([]byte, size)
	done := make(chan int)
	go func() {
		n := 0
		for k := range full {
			copy(out, pool[k])
			free <- k
			n++
		}
		done <- n
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		k := <-free
		copy(pool[k], msg)
		full <- k
	}
	close(full)
	n := <-done
	elapsed := time.Since(start)
	b.StopTimer()
	if n != b.N {
		b.Fatalf("consumer got %d messages, sent %d", n, b.N)
	}
	benchutil.ReportRate(b, b.N, size, elapsed)
}

// ChannelPingPong is the in-process reference for a round trip: a
// size-byte message copied to another goroutine over an unbuffered channel
// and back.
func ChannelPingPong(b *testing.B, size int) {
	ping, pong := make(chan []byte), make(chan []byte)
	peerBuf := make([]byte, size)
	go func() {
		for m := range ping {
			copy(peerBuf, m)
			pong <- peerBuf
		}
	}()
	msg, reply := make([]byte, size), make([]byte, size)
	lat := benchutil.NewLatency()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ping <- msg
		copy(reply, <-pong)
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(ping)
	benchutil.ReportRate(b, b.N, size, elapsed)
	lat.Report(b)
}
