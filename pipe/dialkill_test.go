package pipe_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// dialHeld dials the listener Name and, once its connection segment
// exists, tells the parent (a byte on process.File(0)) and waits to be
// killed there.
var dialHeld = process.Register("pipe-dial-held", func(ctx context.Context, a struct{ Name string }) error {
	pipe.SetDialHook(func() {
		process.File(0).Write([]byte{1})
		for {
			unix.Pause()
		}
	})
	_, err := pipe.Dial(ctx, a.Name, pipe.Options[int]{})
	return err
})

// killDialer starts a dialer of name and SIGKILLs it once its connection
// segment exists.
func killDialer(t *testing.T, name string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := dialHeld.Start(ctxT(t), struct{ Name string }{name}, process.WithFiles(w))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1)); err != nil {
		p.Kill()
		t.Fatalf("the dialer never reached its kill point: %v (%v)", err, p.Wait())
	}
	p.Kill()
	p.Wait()
}

// TestDialerKilled: a dialer SIGKILLed while its connection segment exists
// and before the listener accepted it leaves nothing in /dev/shm: the next
// Accept removes its segment, and so does the listener's Close when nobody
// accepts any more.
func TestDialerKilled(t *testing.T) {
	ctx := ctxT(t)
	t.Run("accept", func(t *testing.T) {
		name := shmtest.Name(t)
		l, err := pipe.Listen(name, pipe.Options[int]{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		killDialer(t, name)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a live dialer meets the next Accept
			defer wg.Done()
			c, err := pipe.Dial(ctx, name, pipe.Options[int]{})
			if err != nil {
				t.Errorf("Dial: %v", err)
				return
			}
			c.Close()
		}()
		c, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		wg.Wait()
		if left := leftovers(t, name+"."); len(left) != 0 {
			t.Fatalf("left in /dev/shm after an Accept: %v", left)
		}
	})
	t.Run("close", func(t *testing.T) {
		name := shmtest.Name(t)
		l, err := pipe.Listen(name, pipe.Options[int]{})
		if err != nil {
			t.Fatal(err)
		}
		killDialer(t, name)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if left := leftovers(t, name+"."); len(left) != 0 {
			t.Fatalf("left in /dev/shm after Close: %v", left)
		}
	})
}
