package manager_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/manager"
)

// A transport of another kind, as one between hosts would be: requests
// and replies over Go channels, served by Manager.Serve, dialed through
// RegisterDialer. It checks that the Transport and ServerConn interfaces
// are all a transport needs.

type chanConn struct {
	req, rep chan []byte
	once     sync.Once
	done     chan struct{}
}

func (c *chanConn) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	select {
	case c.req <- append([]byte(nil), req...):
	case <-c.done:
		return nil, io.ErrClosedPipe
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-c.rep:
		return r, nil
	case <-c.done:
		return nil, io.ErrClosedPipe
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *chanConn) Close() error { c.once.Do(func() { close(c.done) }); return nil }

type chanServerConn struct{ *chanConn }

func (s chanServerConn) Next(ctx context.Context) ([]byte, error) {
	select {
	case r := <-s.req:
		return r, nil
	case <-s.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s chanServerConn) Reply(ctx context.Context, reply []byte) error {
	select {
	case s.rep <- append([]byte(nil), reply...):
		return nil
	case <-s.done:
		return io.EOF
	case <-ctx.Done():
		return ctx.Err()
	}
}

var chanServer struct {
	sync.Mutex
	m *manager.Manager
}

func init() {
	manager.RegisterDialer("chan", func(ctx context.Context, addr string) (manager.Transport, error) {
		chanServer.Lock()
		m := chanServer.m
		chanServer.Unlock()
		if m == nil {
			return nil, errors.New("no chan server")
		}
		c := &chanConn{req: make(chan []byte), rep: make(chan []byte), done: make(chan struct{})}
		go m.Serve(context.Background(), chanServerConn{c})
		return c, nil
	})
}

func TestOtherTransport(t *testing.T) {
	ctx := testCtx(t)
	m, err := manager.New()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	chanServer.Lock()
	chanServer.m = m
	chanServer.Unlock()
	d := must[*manager.Dict[string, int]](t)(manager.NewDict[string, int](ctx, m))
	if err := d.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	// A handle, re-addressed to the chan transport, decoded as a worker
	// would decode it. The address is this server's own: this process's
	// client of an address keeps its idle transports, and those of a
	// server stopped by an earlier run (go test -count) are closed.
	b, err := d.GobEncode()
	if err != nil {
		t.Fatal(err)
	}
	var d2 manager.Dict[string, int]
	if err := d2.GobDecode(manager.Readdress(b, "chan:"+m.Addr())); err != nil {
		t.Fatal(err)
	}
	if v := must[int](t)(d2.Add(ctx, "a", 2)); v != 3 {
		t.Fatalf("Add through the chan transport = %d", v)
	}
	if v, _, _ := d.Get(ctx, "a"); v != 3 {
		t.Fatalf("a = %d", v)
	}
}
