package ringbuf_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestPeekBatch: every record, of every length from 0 up, arrives once and
// in order through PeekBatch/Next/ReleaseBatch, over many laps (padding at
// each wrap), with batches read whole and cut short.
func TestPeekBatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewSPSC(seg, "r", 4096)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	buf := make([]byte, r.MaxRecord())
	want := make([]byte, r.MaxRecord())
	sent, got := 0, 0
	size := func(seq int) int { return (seq * 37) % (r.MaxRecord() / 3) }
	batches := 0
	for sent < 3000 {
		for {
			n := size(sent)
			fill(buf[:n], 0, sent)
			if ok, err := r.TryWrite(buf[:n]); err != nil {
				t.Fatal(err)
			} else if !ok {
				break
			}
			sent++
		}
		for got < sent {
			b, err := r.PeekBatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			batches++
			limit := 1 + batches%7 // some batches cut short: the rest comes again
			k := 0
			for rec, ok := b.Next(); ok; rec, ok = b.Next() {
				n := size(got)
				fill(want[:n], 0, got)
				if !bytes.Equal(rec, want[:n]) {
					t.Fatalf("record %d: %d bytes, want %d (or other bytes)", got, len(rec), n)
				}
				if cap(rec) != len(rec) {
					t.Fatalf("record %d: cap %d beyond its %d bytes", got, cap(rec), len(rec))
				}
				got++
				if k++; batches%3 == 0 && k == limit {
					break
				}
			}
			r.DiscardBatch()
			if rec, ok := b.Next(); ok {
				t.Fatalf("Next after ReleaseBatch returned %d bytes", len(rec))
			}
		}
	}
	if r.Len() != 0 {
		t.Fatalf("ring holds %d bytes after every record was read", r.Len())
	}
	if err := ringbuf.Sane(r); err != nil {
		t.Fatal(err)
	}
	// Nothing to read: TryPeekBatch says so; an ended stream is io.EOF.
	if b, ok, err := r.TryPeekBatch(); ok || err != nil || b != nil {
		t.Fatal(b, ok, err)
	}
	r.CloseWrite()
	if _, err := r.PeekBatch(ctx); err != io.EOF {
		t.Fatalf("PeekBatch on a closed, empty ring: %v, want io.EOF", err)
	}
}

// TestPeekBatchUnreleased: records Next returned stay in the ring until
// ReleaseBatch; PeekBatch again returns the same batch where it was.
func TestPeekBatchUnreleased(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 1024)
	for _, s := range []string{"a", "", "ccc"} {
		r.TryWrite([]byte(s))
	}
	b, ok, err := r.TryPeekBatch()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if rec, ok := b.Next(); !ok || string(rec) != "a" {
		t.Fatalf("%q %v", rec, ok)
	}
	if r.Len() == 0 {
		t.Fatal("space freed before ReleaseBatch")
	}
	b2, _ := r.PeekBatch(context.Background())
	if rec, ok := b2.Next(); b2 != b || !ok || len(rec) != 0 || rec == nil {
		t.Fatalf("second PeekBatch: same %v, %q %v (want the empty record)", b2 == b, rec, ok)
	}
	r.DiscardBatch() // frees "a" and ""
	rec, ok, _ := r.TryPeek()
	if !ok || string(rec) != "ccc" {
		t.Fatalf("after a partial batch: %q %v", rec, ok)
	}
	r.Discard()
}

// TestPeekBatchMisuse: the consumer calls that would skip or repeat records
// of an outstanding batch panic, and so does a ReleaseBatch without one.
func TestPeekBatchMisuse(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 1024)
	r.TryWrite([]byte("x"))
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("ReleaseBatch without PeekBatch", r.DiscardBatch)
	r.TryPeek()
	mustPanic("PeekBatch after Peek", func() { r.TryPeekBatch() })
	r.Discard()
	r.TryWrite([]byte("y"))
	if _, ok, _ := r.TryPeekBatch(); !ok {
		t.Fatal("no batch")
	}
	mustPanic("Peek in a batch", func() { r.TryPeek() })
	mustPanic("Read in a batch", func() { r.TryRead(make([]byte, 8)) })
	mustPanic("Discard in a batch", r.Discard)
	mustPanic("ReadBatch in a batch", func() { r.TryReadBatch(func([]byte) bool { return true }) })
	r.DiscardBatch()
	mustPanic("ReleaseBatch twice", r.DiscardBatch)
}

// TestPeekBatchAllocs: a batch costs no allocation.
func TestPeekBatchAllocs(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 4096)
	msg := make([]byte, 64)
	var sum int
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 16; i++ {
			r.TryWrite(msg)
		}
		b, _, _ := r.TryPeekBatch()
		for rec, ok := b.Next(); ok; rec, ok = b.Next() {
			sum += len(rec)
		}
		r.DiscardBatch()
	})
	if allocs != 0 || sum == 0 {
		t.Fatalf("%v allocs per batch, %d bytes read", allocs, sum)
	}
}
