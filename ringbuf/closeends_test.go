package ringbuf_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// The tests below close the other side's every handle before the waiter
// waits: the close wakes nobody (no waiter is counted yet), so the waiter
// must see it by its own looks. Their poll period is an hour: a waiter
// that only looked for data (or room) ended with the poll, on a spinning
// strategy only when its context did (ctxT's deadline: a failure), on
// Park when its sleep slice ended (250 ms). Each strategy must end the
// wait with the close's error, looking at no clock.

// TestMPSCCloseWriteEndsRead: a consumer's Read on an empty MPSC ring whose
// producers have all closed returns io.EOF (SPSC too).
func TestMPSCCloseWriteEndsRead(t *testing.T) {
	for _, s := range strategies {
		for _, kind := range []string{"spsc", "mpsc"} {
			t.Run(fmt.Sprintf("%s/%v", kind, s), func(t *testing.T) {
				seg := shmtest.Segment(t, 1<<16)
				opts := []ringbuf.Option{ringbuf.WithStrategy(s), ringbuf.WithPoll(time.Hour)}
				var read func(context.Context, []byte) (int, error)
				var write func(context.Context, []byte) error
				var closeWrite func() error
				if kind == "spsc" {
					r, err := ringbuf.NewSPSC(seg, "r", 256, opts...)
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					read, write, closeWrite = r.Read, r.Write, r.CloseWrite
				} else {
					c, err := ringbuf.NewMPSC(seg, "r", 256, opts...)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					p, err := ringbuf.OpenMPSC(seg, "r")
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					read, write, closeWrite = c.Read, p.Write, p.CloseWrite
				}
				if err := write(context.Background(), []byte("last")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 8)
				if n, err := read(ctxT(t, 10*time.Second), buf); err != nil || string(buf[:n]) != "last" {
					t.Fatalf("Read = %q, %v", buf[:n], err)
				}
				if err := closeWrite(); err != nil {
					t.Fatal(err)
				}
				if _, err := read(ctxT(t, 20*time.Second), buf); err != io.EOF {
					t.Fatalf("Read after every producer closed = %v, want io.EOF", err)
				}
			})
		}
	}
}

// TestMPMCCloseEndsWaits: a Get on an empty MPMC ring whose producers have
// all closed returns io.EOF; a Put on a full one whose consumers have all
// closed returns ErrClosed.
func TestMPMCCloseEndsWaits(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			opts := []ringbuf.Option{ringbuf.WithStrategy(s), ringbuf.WithPoll(time.Hour)}
			empty, err := ringbuf.NewMPMC(seg, "empty", 4, 8, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer empty.Close()
			prod, err := ringbuf.OpenMPMC(seg, "empty")
			if err != nil {
				t.Fatal(err)
			}
			if err := prod.Put(context.Background(), []byte("x")); err != nil {
				t.Fatal(err)
			}
			prod.Close()
			buf := make([]byte, 8)
			if n, err := empty.Get(ctxT(t, 10*time.Second), buf); err != nil || n != 1 {
				t.Fatalf("Get = %d, %v", n, err)
			}
			if _, err := empty.Get(ctxT(t, 20*time.Second), buf); err != io.EOF {
				t.Fatalf("Get after every producer closed = %v, want io.EOF", err)
			}

			full, err := ringbuf.NewMPMC(seg, "full", 2, 8, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer full.Close()
			cons, err := ringbuf.OpenMPMC(seg, "full")
			if err != nil {
				t.Fatal(err)
			}
			fillMPMC(t, full)
			if _, err := cons.Get(ctxT(t, 10*time.Second), buf); err != nil {
				t.Fatal(err)
			}
			cons.Close()
			fillMPMC(t, full)
			if err := full.Put(ctxT(t, 20*time.Second), []byte("z")); !errors.Is(err, ringbuf.ErrClosed) {
				t.Fatalf("Put after every consumer closed = %v, want ErrClosed", err)
			}
		})
	}
}

// fillMPMC puts one-byte messages into r until it is full.
func fillMPMC(t *testing.T, r *ringbuf.MPMC) {
	t.Helper()
	for {
		ok, err := r.TryPut([]byte("y"))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
	}
}
