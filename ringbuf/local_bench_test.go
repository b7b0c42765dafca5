package ringbuf_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// BenchmarkLocal measures the protocol cost of one record with no other
// process involved: 64 records written, then read in one batch, in one
// goroutine.
func BenchmarkLocal(b *testing.B) {
	seg := shmtest.Segment(b, 1<<20)
	r, _ := ringbuf.NewSPSC(seg, "r", 1<<16)
	m, _ := ringbuf.NewMPSC(seg, "m", 1<<16)
	q, _ := ringbuf.NewMPMC(seg, "q", 1024, 64)
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.Run("spsc-write-read", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r.TryWrite(msg)
			r.TryRead(buf)
		}
	})
	b.Run("spsc-reserve-batch", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += 64 {
			for k := 0; k < 64; k++ {
				p, _, _ := r.TryReserve(64)
				p[0] = byte(k)
				r.Commit()
			}
			r.TryReadBatch(func(rec []byte) bool { return true })
		}
	})
	var sum int
	b.Run("spsc-write-readbatch", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += 64 {
			for k := 0; k < 64; k++ {
				r.TryWrite(msg)
			}
			r.TryReadBatch(func(rec []byte) bool { sum += int(rec[0]); return true })
		}
	})
	b.Run("spsc-write-peekbatch", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += 64 {
			for k := 0; k < 64; k++ {
				r.TryWrite(msg)
			}
			for got := 0; got < 64; { // a batch ends at the wrap
				bt, _, _ := r.TryPeekBatch()
				for rec, ok := bt.Next(); ok; rec, ok = bt.Next() {
					sum += int(rec[0])
					got++
				}
				r.DiscardBatch()
			}
		}
	})
	b.Run("mpsc-reserve-batch", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += 64 {
			for k := 0; k < 64; k++ {
				p, _, _ := m.TryReserve(64)
				p[0] = byte(k)
				m.Commit()
			}
			m.TryReadBatch(func(rec []byte) bool { return true })
		}
	})
	b.Run("mpmc-putbatch-getbatch", func(b *testing.B) {
		run := make([][]byte, 64)
		for i := range run {
			run[i] = msg
		}
		ctx := context.Background()
		use := func(m []byte) { sum += int(m[0]) }
		b.ReportAllocs()
		for i := 0; i < b.N; i += 64 {
			q.PutBatch(ctx, run)
			q.TryGetBatchFunc(64, use)
		}
	})
	b.Run("mpmc-put-get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			q.TryPut(msg)
			q.TryGet(buf)
		}
	})
}

// BenchmarkPollEmpty: one non-blocking look at an empty ring whose producer
// is alive, as a consumer polling several sources in a loop makes, beside
// the same look at a Go channel (select with default) and at a unix socket
// (recv with MSG_DONTWAIT, EAGAIN). The ring looks for dead producers in
// /proc once per poll period, not per call.
func BenchmarkPollEmpty(b *testing.B) {
	seg := shmtest.Segment(b, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 1<<12)
	m, _ := ringbuf.NewMPSC(seg, "m", 1<<12)
	q, _ := ringbuf.NewMPMC(seg, "q", 16, 64)
	if err := errors.Join(r.AttachProducer(), m.AttachProducer(), q.AttachProducer()); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64)
	b.Run("spsc-trypeek", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok, err := r.TryPeek(); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("mpsc-tryread", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok, err := m.TryRead(buf); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("mpmc-tryget", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok, err := q.TryGet(buf); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("chan", func(b *testing.B) {
		ch := make(chan []byte, 1)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			select {
			case <-ch:
				b.Fatal("a message")
			default:
			}
		}
	})
	b.Run("unix", func(b *testing.B) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := unix.Recvfrom(fds[0], buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
				b.Fatal(err)
			}
		}
	})
}
