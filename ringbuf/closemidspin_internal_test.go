package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// closeOnFirstLook returns ready with a handshake at its first look: a
// goroutine runs closeOther (the other side's last close) to completion
// while the waiter, not yet counted, is in its spin, and only then does
// the look go on. The close's wake finds no waiter counted, so the wait
// must find the close by its own looks.
func closeOnFirstLook(ready func() bool, closeOther func() error) (func() bool, *atomic.Int64) {
	var looks atomic.Int64
	return func() bool {
		if looks.Add(1) == 1 {
			closed := make(chan error, 1)
			go func() { closed <- closeOther() }()
			if err := <-closed; err != nil {
				panic(fmt.Sprintf("closing the other side: %v", err))
			}
		}
		return ready()
	}, &looks
}

// TestCloseWhileWaiterSpins: the other side's last handle closes while a
// waiter spins (placed by handshake from inside its first look, before it
// is counted): the wait ends with nil, settled, for every strategy, not
// with errPoll after a sleep slice (Park) or with the context's error (Spin,
// Yield, their poll an hour), and the caller then ends with the close's
// error. Covered: an SPSC and an MPSC consumer whose producers CloseWrite,
// an SPSC and MPSC producer on a full ring whose consumer CloseReads, an
// MPMC Get whose producers Close and an MPMC Put whose consumers Close.
func TestCloseWhileWaiterSpins(t *testing.T) {
	for _, s := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		opts := []Option{WithStrategy(s), WithPoll(time.Hour)}
		check := func(t *testing.T, w *waitSide, ready, settle func() bool, closeOther func() error) {
			t.Helper()
			r, looks := closeOnFirstLook(ready, closeOther)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := w.wait(ctx, r, settle); err != nil {
				t.Fatalf("wait with the other side closed during its spin = %v after %d looks, want nil", err, looks.Load())
			}
			if looks.Load() == 0 {
				t.Fatal("the wait never looked: the close was not placed in its spin")
			}
			if n := w.waiters.Load(); n != 0 {
				t.Fatalf("%d waiters counted after the wait", n)
			}
		}
		for _, kind := range []string{"spsc", "mpsc"} {
			t.Run(fmt.Sprintf("%s-read/%v", kind, s), func(t *testing.T) {
				made, opened := ringPair(t, kind, opts)
				c, p := made, opened // MPSC: the producer opened
				if kind == "spsc" {
					p = made // the same handle writes and reads
				}
				if err := p.Write(context.Background(), []byte("last")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 8)
				if _, err := c.Read(context.Background(), buf); err != nil {
					t.Fatal(err)
				}
				check(t, &c.c.wait, c.dataReady, c.allDetached, p.CloseWrite)
				if _, err := c.Read(ctxForTest(t), buf); err != io.EOF {
					t.Fatalf("Read after the close = %v, want io.EOF", err)
				}
			})
			t.Run(fmt.Sprintf("%s-write/%v", kind, s), func(t *testing.T) {
				made, opened := ringPair(t, kind, opts)
				c, p := made, opened // MPSC: the consumer made the ring
				if kind == "spsc" {
					c, p = opened, made
				}
				if err := c.AttachConsumer(); err != nil {
					t.Fatal(err)
				}
				for {
					ok, err := p.TryWrite([]byte("fill"))
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						break // p.p.need holds what the next record wants
					}
				}
				check(t, &p.p.wait, p.spaceFor, p.consumerClosed, c.CloseRead)
				if err := p.Write(ctxForTest(t), []byte("more")); !errors.Is(err, ErrClosed) {
					t.Fatalf("Write after the consumer closed = %v, want ErrClosed", err)
				}
			})
		}
		t.Run(fmt.Sprintf("mpmc-get/%v", s), func(t *testing.T) {
			c, p := mpmcPair(t, 4, opts)
			if err := p.Put(context.Background(), []byte("x")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 8)
			if _, err := c.Get(context.Background(), buf); err != nil {
				t.Fatal(err)
			}
			g := ringx.NewDataGate((*mpmcX)(c), ringx.DataRun, int(c.limit)) // as GetFunc's after a Get that found its message
			check(t, &c.data, func() bool { return c.dataOrClosed(&g) }, c.producersClosed, p.Close)
			if _, err := c.Get(ctxForTest(t), buf); err != io.EOF {
				t.Fatalf("Get after the close = %v, want io.EOF", err)
			}
		})
		t.Run(fmt.Sprintf("mpmc-put/%v", s), func(t *testing.T) {
			p, c := mpmcPair(t, 2, opts)
			if err := c.AttachConsumer(); err != nil {
				t.Fatal(err)
			}
			for {
				ok, err := p.TryPut([]byte("y"))
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
			}
			g := ringx.NewRoomGate((*mpmcX)(p), ringx.PutRoom, int(p.limit)) // as PutFunc's
			check(t, &p.space, func() bool { return p.roomOrClosed(&g) }, p.consumersClosed, c.Close)
			if err := p.Put(ctxForTest(t), []byte("z")); !errors.Is(err, ErrClosed) {
				t.Fatalf("Put after the consumers closed = %v, want ErrClosed", err)
			}
		})
	}
}

// mpmcPair makes an MPMC ring of capacity slots of 8 bytes (opts) in a
// segment of its own and opens a second handle on it; both close when the
// test ends.
func mpmcPair(t *testing.T, capacity int, opts []Option) (made, opened *MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	return handlePair(t,
		func() (*MPMC, error) { return NewMPMC(seg, "q", capacity, 8, opts...) },
		func() (*MPMC, error) { return OpenMPMC(seg, "q", opts...) })
}

// ringPair makes a ring of kind ("spsc" or "mpsc", 256 bytes, opts) in a
// segment of the test's and opens a second handle on it; both close with
// the test.
func ringPair(t *testing.T, kind string, opts []Option) (made, opened *vring) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	if kind == "spsc" {
		r, q := handlePair(t,
			func() (*SPSC, error) { return NewSPSC(seg, "r", 256, opts...) },
			func() (*SPSC, error) { return OpenSPSC(seg, "r", opts...) })
		return &r.vring, &q.vring
	}
	r, q := handlePair(t,
		func() (*MPSC, error) { return NewMPSC(seg, "r", 256, opts...) },
		func() (*MPSC, error) { return OpenMPSC(seg, "r", opts...) })
	return &r.vring, &q.vring
}

// handlePair makes a ring with mk and a second handle on it with open,
// failing t on an error; both close when the test ends.
func handlePair[H interface{ Close() error }](t *testing.T, mk, open func() (H, error)) (made, opened H) {
	t.Helper()
	made, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { made.Close() })
	opened, err = open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return made, opened
}

// ctxForTest is a context that ends with the test or after 20 seconds.
func ctxForTest(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
