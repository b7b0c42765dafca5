package pipe_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

type sizesArgs struct {
	C     *pipe.Conn[[]byte]
	Sizes []int
}

var sendSizes = process.Register("pipe-send-sizes", func(ctx context.Context, a sizesArgs) error {
	defer a.C.Close()
	for i, n := range a.Sizes {
		var err error
		if i%2 == 0 {
			err = a.C.Send(ctx, shmtest.Payload(i, n))
		} else {
			err = a.C.SendBytes(ctx, shmtest.Payload(i, n))
		}
		if err != nil {
			return fmt.Errorf("message %d (%d bytes): %w", i, n, err)
		}
	}
	return nil
})

// TestLargeMessagesAcrossProcesses sends messages of every size from 0 B
// to 16 MiB from a worker through a pipe made with default options; each
// arrives once, whole and in order, every other one read in place (Peek,
// then Discard).
func TestLargeMessagesAcrossProcesses(t *testing.T) {
	ctx := ctxT(t)
	a, b, err := pipe.New(pipe.Options[[]byte]{OneWay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sizes := shmtest.MessageSizes(24)
	p, err := sendSizes.Start(ctx, sizesArgs{C: b, Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	for i, n := range sizes {
		want := crc32.ChecksumIEEE(shmtest.Payload(i, n))
		var got uint32
		var l int
		if i%2 == 0 {
			m, err := a.Recv(ctx)
			if err != nil {
				t.Fatalf("message %d (%d bytes): %v", i, n, err)
			}
			got, l = crc32.ChecksumIEEE(m), len(m)
		} else {
			m, err := a.Peek(ctx)
			if err != nil {
				t.Fatalf("message %d (%d bytes): %v", i, n, err)
			}
			again, err := a.Peek(ctx)
			if err != nil || len(again) != len(m) {
				t.Fatalf("message %d: a second Peek gave %d bytes, %v", i, len(again), err)
			}
			got, l = crc32.ChecksumIEEE(m), len(m)
			a.Discard()
		}
		if l != n || got != want {
			t.Fatalf("message %d: got %d bytes (crc %08x), want %d (crc %08x)", i, l, got, n, want)
		}
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if u := pipe.ArenaUsed(a); u != 0 {
		t.Fatalf("arena holds %d bytes after every message was received", u)
	}
}

// TestTooLarge: a message over MaxMessage is ErrTooLarge, a sentinel.
func TestTooLarge(t *testing.T) {
	ctx := ctxT(t)
	a, b, err := pipe.New(pipe.Options[[]byte]{MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if err := a.SendBytes(ctx, make([]byte, 1<<20+1)); !errors.Is(err, pipe.ErrTooLarge) {
		t.Fatalf("1 MiB + 1: %v, want ErrTooLarge", err)
	}
	if err := a.SendBytes(ctx, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if m, err := b.RecvBytes(ctx); err != nil || len(m) != 1<<20 {
		t.Fatalf("RecvBytes: %d bytes, %v", len(m), err)
	}
	if u := pipe.ArenaUsed(a); u != 0 {
		t.Fatalf("arena holds %d bytes", u)
	}
}
