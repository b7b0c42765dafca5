package pipe_test

import (
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/pipe"
)

// TestWriteBesideAHandoff: Write on an end while another goroutine hands
// the end to a worker (process.Start encodes it, and the handoff reopens
// its send ring) is no data race: Write read the ring handle without the
// send lock (go test -race reports it).
func TestWriteBesideAHandoff(t *testing.T) {
	ctx := ctxT(t)
	c0, c1, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	var started atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !started.Load() {
			if _, err := c1.Write(nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	p, err := echoOnce.Start(ctx, c1)
	started.Store(true)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	c1.Close() // this process's copy
	if err := c0.Send(ctx, "hi"); err != nil {
		t.Fatal(err)
	}
	if v, err := c0.Recv(ctx); err != nil || v != "hi" {
		t.Fatalf("echo = %q, %v (worker: %v)", v, err, p.Wait())
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}
