package pipe_test

import (
	"context"
	"errors"
	"hash/crc32"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// killSizes are the messages a killed sender sends before the one it dies
// holding: inline, and out of line.
var killSizes = []int{10, 300, 70000, 1 << 20}

// sendThenHold sends killSizes, then places a 4 MiB message out of line
// and, before sending its reference, tells the parent (File(0)) and waits
// to be killed.
var sendThenHold = process.Register("pipe-send-then-hold", func(ctx context.Context, c *pipe.Conn[[]byte]) error {
	for i, n := range killSizes {
		if err := c.SendBytes(ctx, shmtest.Payload(i, n)); err != nil {
			return err
		}
	}
	pipe.SetPlacedHook(func() {
		process.File(0).Write([]byte{1})
		for {
			unix.Pause() // returns on any signal (the runtime's own included); SIGKILL ends it
		}
	})
	return c.SendBytes(ctx, make([]byte, 4<<20))
})

// TestSenderKilledHoldingBlock kills a sender after it placed a 4 MiB
// message out of line and before it sent the reference: the receiver gets
// every message sent before, whole, then ErrPeerDead (it does not hang),
// and the dead sender's block is back in the arena by then.
func TestSenderKilledHoldingBlock(t *testing.T) {
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 20) {
		a, b, err := pipe.New(pipe.Options[[]byte]{OneWay: true})
		if err != nil {
			t.Fatal(err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := sendThenHold.Start(ctx, b, process.WithFiles(w))
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		b.Close()
		var one [1]byte
		if _, err := r.Read(one[:]); err != nil {
			t.Fatalf("trial %d: the sender never placed its block: %v", trial, err)
		}
		r.Close()
		if u := pipe.ArenaUsed(a); u < 4<<20 {
			t.Fatalf("trial %d: arena holds %d bytes with the sender's block placed, want at least 4 MiB", trial, u)
		}
		p.Kill()
		p.Wait()
		for i, n := range killSizes {
			m, err := a.RecvBytes(ctx)
			if err != nil {
				t.Fatalf("trial %d: message %d: %v", trial, i, err)
			}
			if len(m) != n || crc32.ChecksumIEEE(m) != crc32.ChecksumIEEE(shmtest.Payload(i, n)) {
				t.Fatalf("trial %d: message %d is %d bytes, want %d", trial, i, len(m), n)
			}
		}
		if _, err := a.RecvBytes(ctx); !errors.Is(err, pipe.ErrPeerDead) {
			t.Fatalf("trial %d: receive after the sender died: %v, want ErrPeerDead", trial, err)
		}
		if u := pipe.ArenaUsed(a); u != 0 {
			t.Fatalf("trial %d: arena holds %d bytes after the receiver found the sender dead, want 0", trial, u)
		}
		a.Close()
	}
}
