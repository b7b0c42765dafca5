package pipe_test

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// acceptHeld listens as Name, tells the parent (a byte on process.File(0)),
// accepts one dialer and, once it has taken the dialer's accept word and
// before it removes the connection segment's name, tells the parent again
// and waits to be killed there.
var acceptHeld = process.Register("pipe-accept-held", func(ctx context.Context, a struct{ Name string }) error {
	pipe.SetAcceptHook(func() {
		process.File(0).Write([]byte{2})
		for {
			unix.Pause()
		}
	})
	l, err := pipe.Listen(a.Name, pipe.Options[int]{})
	if err != nil {
		return err
	}
	process.File(0).Write([]byte{1})
	_, err = l.Accept(ctx)
	return err
})

// TestListenerKilledAccepting: a listener SIGKILLed after it took a live
// dialer's accept word and before it removed the connection segment's name
// leaves nothing in /dev/shm. The dialer, which got its pipe, left the name
// to the listener, and gc leaves the segment of a live creator alone.
func TestListenerKilledAccepting(t *testing.T) {
	ctx := ctxT(t)
	name := shmtest.Name(t)
	t.Cleanup(func() {
		shm.Unlink(name) // the killed listener's own name, for gc
		for _, left := range leftovers(t, name+".") {
			shm.Unlink(left)
		}
	})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := acceptHeld.Start(ctx, struct{ Name string }{name}, process.WithFiles(w))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Kill()
	b := make([]byte, 1)
	if _, err := r.Read(b); err != nil || b[0] != 1 {
		t.Fatalf("the listener never listened: %v, %v", b, err)
	}
	c, err := pipe.Dial(ctx, name, pipe.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := r.Read(b); err != nil || b[0] != 2 {
		t.Fatalf("the listener never reached its kill point: %v, %v", b, err)
	}
	p.Kill()
	p.Wait()
	if left := leftovers(t, name+"."); len(left) != 0 {
		t.Fatalf("left in /dev/shm by a dialer whose listener was killed accepting it: %v", left)
	}
}
