package ringbuf_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestWriteBatchMPSC: runs of records of varied lengths (the largest past
// the 2 KiB that goes alone on a cache line) written with WriteBatch and
// TryWriteBatch arrive once each, in order, over many laps (runs cut at
// the wrap and at the room there is); the ring stays sane between calls;
// an oversized record is ErrTooLarge with nothing written.
func TestWriteBatchMPSC(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewMPSC(seg, "r", 1<<13)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ringbuf.OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := ctxT(t, time.Minute)
	size := func(seq int) int {
		if seq%97 == 96 {
			return 2500 // alone, on a cache line
		}
		return (seq * 53) % 300
	}
	const total = 4000
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 2500)
	}
	sent, got, runs := 0, 0, 0
	rbuf := make([]byte, 4096)
	want := make([]byte, 4096)
	for got < total {
		if sent < total {
			k := 1 + sent%len(bufs)
			recs := make([][]byte, 0, k)
			for j := 0; j < k && sent+j < total; j++ {
				n := size(sent + j)
				fill(bufs[j][:n], 1, sent+j)
				recs = append(recs, bufs[j][:n])
			}
			var n int
			if runs%2 == 0 {
				n, err = p.TryWriteBatch(recs)
			} else if got == sent {
				n, err = p.WriteBatch(ctx, recs) // the ring is empty: it writes at once
			}
			if err != nil {
				t.Fatal(err)
			}
			if n > len(recs) {
				t.Fatalf("wrote %d of %d records", n, len(recs))
			}
			sent += n
			runs++
		}
		for got < sent {
			n, ok, err := r.TryRead(rbuf)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			m := size(got)
			fill(want[:m], 1, got)
			if string(rbuf[:n]) != string(want[:m]) {
				t.Fatalf("record %d: %d bytes, want %d, or content differs", got, n, m)
			}
			got++
		}
		if got == sent {
			if err := ringbuf.Sane(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	big := make([]byte, r.MaxRecord()+1)
	if n, err := p.TryWriteBatch([][]byte{[]byte("x"), big}); n != 0 || !errors.Is(err, ringbuf.ErrTooLarge) {
		t.Fatalf("oversized record in a run: %d, %v; want 0, ErrTooLarge", n, err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes queued after a refused run", r.Len())
	}
}
