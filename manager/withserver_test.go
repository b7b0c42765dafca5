package manager_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// A transport of another kind that a server process serves besides its
// own pipes (Start's WithServer): requests and replies over a pipe
// listener of another name, "alt:<name>", standing for a transport between
// hosts. Its server side is registered with RegisterServer, its client
// side with RegisterDialer, in every process of the test binary.

var altOptions = pipe.Options[[]byte]{Capacity: 4096, MaxMessage: 1 << 20}

type altServerConn struct{ c *pipe.Conn[[]byte] }

func (s altServerConn) Next(ctx context.Context) ([]byte, error) { return s.c.Peek(ctx) }
func (s altServerConn) Reply(ctx context.Context, reply []byte) error {
	s.c.Discard()
	return s.c.SendBytes(ctx, reply)
}
func (s altServerConn) Close() error { return s.c.Close() }

type altTransport struct{ c *pipe.Conn[[]byte] }

func (t altTransport) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	if err := t.c.SendBytes(ctx, req); err != nil {
		return nil, err
	}
	return t.c.RecvBytes(ctx)
}
func (t altTransport) Close() error { return t.c.Close() }

// serveAlt is the transport's server side, in the server process.
func serveAlt(ctx context.Context, m *manager.Manager, arg string) (func(), error) {
	if arg == "fail" {
		return nil, errors.New("cannot listen")
	}
	l, err := pipe.Listen(arg, altOptions)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, pipe.ErrClosed) {
					return
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.Serve(ctx, altServerConn{c})
			}()
		}
	}()
	return func() {
		l.Close()
		wg.Wait()
	}, nil
}

func init() {
	manager.RegisterServer("test.alt", serveAlt)
	manager.RegisterDialer("alt", func(ctx context.Context, addr string) (manager.Transport, error) {
		c, err := pipe.Dial(ctx, addr, altOptions)
		if err != nil {
			return nil, err
		}
		return altTransport{c}, nil
	})
}

type altArgs struct {
	D *manager.Dict[string, int64]
	N int
}

var altWorker = process.Register("test.altworker", func(ctx context.Context, a altArgs) error {
	for range a.N {
		if _, err := a.D.Add(ctx, "n", 1); err != nil {
			return err
		}
	}
	return nil
})

// TestWithServer: a server process started with WithServer serves a
// registered transport of another kind besides its pipes: a Manager
// connected through it (Connect) makes objects in the same server, its
// proxies carry the other transport's address to a worker, which calls
// through it; calls through both transports meet in one object; Shutdown
// stops both and leaves nothing in /dev/shm; an unknown transport, or one
// whose ServerFunc fails, fails Start with its error.
func TestWithServer(t *testing.T) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	alt := shmtest.Name(t) + "-alt"
	m := must[*manager.Manager](t)(manager.Start(ctx, manager.WithServer("test.alt", alt)))
	defer m.Shutdown()
	far := must[*manager.Manager](t)(manager.Connect(ctx, "alt:"+alt))
	d := must[*manager.Dict[string, int64]](t)(manager.NewDict[string, int64](ctx, far))
	const n = 50
	if err := altWorker.Run(ctx, altArgs{D: d, N: n}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := d.Get(ctx, "n"); err != nil || v != n {
		t.Fatalf("n through the other transport = %d, %v; want %d", v, err, n)
	}
	// The same object through this host's pipes.
	b := must[[]byte](t)(d.GobEncode())
	var near manager.Dict[string, int64]
	if err := near.GobDecode(manager.Readdress(b, m.Addr())); err != nil {
		t.Fatal(err)
	}
	if v := must[int64](t)(near.Add(ctx, "n", 1)); v != n+1 {
		t.Fatalf("n through the pipes = %d, want %d", v, n+1)
	}
	if err := m.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Len(ctx); err == nil {
		t.Fatal("a call through the other transport after Shutdown succeeded")
	}
	if _, err := os.Stat("/dev/shm/" + alt); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the transport's listener %s is left in /dev/shm (%v): its stop did not run", alt, err)
	}

	for _, o := range []manager.Option{manager.WithServer("test.none", ""), manager.WithServer("test.alt", "fail")} {
		m, err := manager.Start(ctx, o)
		if err == nil {
			m.Shutdown()
			t.Fatal("Start with a failing server transport succeeded")
		}
		if !strings.Contains(err.Error(), "test.none") && !strings.Contains(err.Error(), "cannot listen") {
			t.Fatalf("Start's error does not say why: %v", err)
		}
	}
}
