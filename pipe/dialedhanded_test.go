package pipe_test

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
)

// TestDialedEndHandedToWorker: an end made by Accept or Dial handed to a
// worker either works there (the worker echoes a message) or Start says
// at once that it cannot travel, and the end stays this process's. Its
// segment's name is removed once both ends are mapped, so a worker cannot
// attach it by name: before, Start went ahead, made the worker the end's
// holder, the worker failed to decode its arguments ("no such file or
// directory") and exited, and the peer lost the end (ErrPeerDead).
func TestDialedEndHandedToWorker(t *testing.T) {
	for _, handed := range []string{"accepted", "dialed"} {
		t.Run(handed, func(t *testing.T) {
			ctx := ctxT(t)
			name := shmtest.Name(t)
			l, err := pipe.Listen(name, pipe.Options[string]{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			dialed := make(chan *pipe.Conn[string], 1)
			go func() {
				c, err := pipe.Dial(ctx, name, pipe.Options[string]{})
				if err != nil {
					t.Error(err)
				}
				dialed <- c
			}()
			a, err := l.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d := <-dialed
			if d == nil {
				a.Close()
				return
			}
			hand, keep := a, d
			if handed == "dialed" {
				hand, keep = d, a
			}
			defer keep.Close()
			p, err := echoOnce.Start(ctx, hand)
			if err != nil {
				// Refused: the end is still this process's.
				t.Logf("Start: %v", err)
				if err := keep.Send(ctx, "hi"); err != nil {
					t.Fatal(err)
				}
				if v, err := hand.Recv(ctx); err != nil || v != "hi" {
					t.Fatalf("the %s end kept here: Recv = %q, %v", handed, v, err)
				}
				hand.Close()
				return
			}
			hand.Close()
			if err := keep.Send(ctx, "hi"); err != nil {
				t.Fatal(err)
			}
			v, err := keep.Recv(ctx)
			werr := p.Wait()
			if err != nil || v != "hi" {
				t.Fatalf("the %s end handed to a worker: Recv = %q, %v, want its echo (worker: %v)", handed, v, err, werr)
			}
		})
	}
}
