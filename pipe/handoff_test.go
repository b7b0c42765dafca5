package pipe_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
)

// stallArgs holds its worker inside the decoding of its arguments: the
// gate, first, reads process.File(0), a pipe whose write end the parent
// closes without writing; the worker is killed there, before it attaches
// to anything that follows.
type stallArgs struct {
	Gate stall
	Conn *pipe.Conn[string]
	Ring *ringbuf.SPSC
}

// stall carries a set field: gob leaves out a field whose value is zero.
type stall struct{ Armed bool }

func (stall) GobEncode() ([]byte, error) { return []byte{1}, nil }
func (*stall) GobDecode([]byte) error {
	var b [1]byte
	process.File(0).Read(b[:]) // blocks until the parent dies or kills us
	select {}
}

var stalled = process.Register("pipe-stalled", func(ctx context.Context, a stallArgs) error { return nil })

// startStalled starts a worker with a and kills it before it attaches.
func startStalled(t *testing.T, a stallArgs) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	a.Gate.Armed = true
	p, err := stalled.Start(ctxT(t), a, process.WithFiles(r))
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait()
}

// TestRecvPeerDiedBeforeAttaching: the end handed to a worker belongs to
// the worker from the moment it starts. A worker killed before it attached
// is a dead peer: Recv returns ErrPeerDead. (Before, the end still named
// the parent, alive, and Recv waited forever.)
func TestRecvPeerDiedBeforeAttaching(t *testing.T) {
	a, b, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	startStalled(t, stallArgs{Conn: b})
	if v, err := a.Recv(ctxT(t)); !errors.Is(err, pipe.ErrPeerDead) {
		t.Fatalf("Recv with the peer dead before attaching = %q, %v, want ErrPeerDead", v, err)
	}
}

// TestRingProducerDiedBeforeAttaching: a consuming ring handle records the
// worker it hands the ring to as a producer; a Read waiting on a producer
// that died before attaching gives ErrPeerDead instead of waiting forever.
func TestRingProducerDiedBeforeAttaching(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewSPSC(seg, "r", 1024)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AttachConsumer(); err != nil {
		t.Fatal(err)
	}
	startStalled(t, stallArgs{Ring: r})
	buf := make([]byte, 100)
	if n, err := r.Read(ctxT(t), buf); !errors.Is(err, ringbuf.ErrPeerDead) {
		t.Fatalf("Read with the producer dead before attaching = %d, %v, want ErrPeerDead", n, err)
	}
}
