package ringbuf_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestReadShortKeepsPeek: a Read into a short buffer of the record that a
// Peek holds leaves the peek as it was, as TryRead does: the caller's
// Discard after it frees the record instead of panicking "Discard without
// Peek".
func TestReadShortKeepsPeek(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewSPSC(seg, "r", 1024)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	for _, read := range []struct {
		name string
		f    func(buf []byte) (int, error)
	}{
		{"Read", func(buf []byte) (int, error) { return r.Read(ctx, buf) }},
		{"TryRead", func(buf []byte) (int, error) { n, _, err := r.TryRead(buf); return n, err }},
	} {
		if err := r.Write(ctx, []byte("abcdef")); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(ctx, []byte("next")); err != nil {
			t.Fatal(err)
		}
		if rec, err := r.Peek(ctx); err != nil || string(rec) != "abcdef" {
			t.Fatalf("%s: Peek: %q %v", read.name, rec, err)
		}
		if n, err := read.f(make([]byte, 3)); n != 6 || !errors.Is(err, ringbuf.ErrShortBuffer) {
			t.Fatalf("%s into 3 bytes: %d %v", read.name, n, err)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("Discard after Peek and a short %s: panic: %v", read.name, p)
				}
			}()
			r.Discard()
		}()
		buf := make([]byte, 16)
		if n, err := r.Read(ctx, buf); err != nil || string(buf[:n]) != "next" {
			t.Fatalf("%s: after Discard: %q %v", read.name, buf[:n], err)
		}
	}
}
