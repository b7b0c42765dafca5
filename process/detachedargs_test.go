package process_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// bigArgs are arguments larger than a socket's buffer: their write to
// the child cannot finish before the child reads them.
type bigArgs struct {
	S   *shm.Segment
	Pad []byte
}

var (
	// lateOrphan, started Detached by quickDetacher, records in word 4
	// that it ran with its arguments whole.
	lateOrphan = process.Register("process-test-late-orphan", func(ctx context.Context, a bigArgs) error {
		if len(a.Pad) == 8<<20 {
			w := atomics.MustUint32At(a.S.Bytes(), 4)
			w.Store(1) // publishes: the orphan ran
			atomics.Wake(w, -1)
		}
		return nil
	})
	// quickDetacher starts lateOrphan Detached, stores its pid in word 0,
	// and exits at once: what a program that hands work to a detached
	// worker does.
	quickDetacher = process.Register("process-test-quick-detacher", func(ctx context.Context, s *shm.Segment) error {
		p, err := lateOrphan.Start(ctx, bigArgs{S: s, Pad: make([]byte, 8<<20)}, process.Detached(), quiet())
		if err != nil {
			return err
		}
		atomics.MustUint32At(s.Bytes(), 0).Store(uint32(p.Pid()))
		return nil
	})
)

// TestDetachedChildGetsItsArgumentsWhenTheParentExitsAtOnce: a parent
// that starts a Detached child and exits as soon as Start returns must
// leave the child its arguments. They were written by a goroutine after
// Start returned, and a parent that exited first (arguments larger than
// the socket's buffer make sure of it) left the child reading EOF.
func TestDetachedChildGetsItsArgumentsWhenTheParentExitsAtOnce(t *testing.T) {
	s, err := shm.CreateAnon(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := quickDetacher.Run(context.Background(), s, quiet()); err != nil {
		t.Fatal(err)
	}
	pid := int(atomics.MustUint32At(s.Bytes(), 0).Load())
	ran := atomics.MustUint32At(s.Bytes(), 4)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil { // gone already: it must have run
		if ran.Load() != 1 {
			t.Fatalf("the detached child %d is gone (%v) and never ran", pid, err)
		}
		return
	}
	defer unix.Close(pidfd)
	// The child has run once the flag is set; if it exits without, it
	// never got its arguments.
	if err := awaitExit(pidfd, shmtest.Timeout(t, time.Minute)); err != nil {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		t.Fatalf("detached child %d: %v", pid, err)
	}
	if ran.Load() != 1 {
		t.Fatalf("the detached child %d exited without running: its parent exited before it had its arguments", pid)
	}
}
