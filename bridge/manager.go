package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shmkit/shmkit/manager"
)

// Scheme is the scheme of a manager's address reached through NATS:
// "nats:<subject>".
const Scheme = "nats"

const (
	// managerQueue is the queue group of a manager's subject: a server
	// restarted under the same subject takes its requests over.
	managerQueue = "shmkit-manager"
	// serverHeader names, in each reply, the server instance that sent it;
	// a client probes that instance's liveness subject while it waits.
	serverHeader = "Shmkit-Server"
	// managerConns is the number of requests a ServeManager serves at
	// once.
	managerConns = 16
	// probeEvery is how often a call still waiting for its reply checks
	// that the server that should answer it is alive.
	probeEvery = 250 * time.Millisecond
	// headerRoom is what a request's headers may take of max_payload.
	headerRoom = 256
)

// ServeManager answers, through m, the requests that arrive on subject
// over nc, until ctx is done (it then returns nil), m is shut down
// (manager.ErrClosed) or nc is closed (nats.ErrConnectionClosed). m must be made by manager.New in this process. Any
// number of processes on other hosts then reach m's objects through
// DialManager(subject).
//
// Who may call is who may publish to subject: the NATS server's
// authentication (user and password, nkeys, credentials, TLS) and its
// permissions stand in for Python's authkey. A request or reply over the
// NATS server's max_payload (1 MiB by default) fails with
// manager.ErrTooLarge; the manager's own limit is manager.MaxMessage.
func ServeManager(ctx context.Context, nc *nats.Conn, subject string, m *manager.Manager) error {
	return serveManager(ctx, nc, subject, m, nil)
}

// serveManager is ServeManager; it sends ready the error of its setup, or
// nil once it serves.
func serveManager(ctx context.Context, nc *nats.Conn, subject string, m *manager.Manager, ready chan<- error) (err error) {
	setup := true
	if ready != nil {
		defer func() {
			if setup {
				ready <- err
			}
		}()
	}
	id := randomID()
	sub, err := nc.QueueSubscribeSync(subject, managerQueue)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	// No limit on the requests waiting for a serving goroutine: past the
	// client's default (64 MiB) a request is dropped as a slow consumer's,
	// and its caller, whose probes this server answers, waits for ever.
	// What waits is bounded anyway: a client transport sends its next
	// request only after the last one's reply.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return err
	}
	// The liveness subjects: any server of subject, and this one.
	pong := func(msg *nats.Msg) { msg.Respond(nil) }
	alive, err := nc.QueueSubscribe(subject+".alive", managerQueue, pong)
	if err != nil {
		return err
	}
	defer alive.Unsubscribe()
	mine, err := nc.Subscribe(subject+".alive."+id, pong)
	if err != nil {
		return err
	}
	defer mine.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}
	setup = false
	if ready != nil {
		ready <- nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var closed error
	for range managerConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c := &natsServerConn{nc: nc, sub: sub, id: id}
				if err := m.Serve(ctx, c); err != nil {
					once.Do(func() { closed = err })
					cancel()
					return
				}
				// On a closed connection (or a subscription gone) Next
				// fails at once, for ever: serving again would spin. No
				// request can come any more, so ServeManager ends.
				if nc.IsClosed() || errors.Is(c.err, nats.ErrBadSubscription) {
					once.Do(func() {
						closed = c.err
						if nc.IsClosed() {
							closed = nats.ErrConnectionClosed
						}
					})
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	return closed
}

// natsServerConn is the server's end of the requests a ServeManager
// takes: any client's, one at a time (a client sends its next request on a
// transport only after the reply to the last). Owned by the goroutine
// serving it; the subscription is shared by ServeManager's goroutines.
type natsServerConn struct {
	nc  *nats.Conn
	sub *nats.Subscription
	id  string
	msg *nats.Msg
	err error // Next's last failure: ServeManager ends on a terminal one
}

func (c *natsServerConn) Next(ctx context.Context) ([]byte, error) {
	for {
		msg, err := c.sub.NextMsgWithContext(ctx)
		if err != nil {
			c.err = err
			return nil, err
		}
		if msg.Reply == "" {
			continue // not a request: nowhere to answer
		}
		c.msg = msg
		return msg.Data, nil
	}
}

func (c *natsServerConn) Reply(ctx context.Context, reply []byte) error {
	out := nats.NewMsg(c.msg.Reply)
	out.Header.Set(serverHeader, c.id)
	out.Data = reply
	c.msg = nil
	err := c.nc.PublishMsg(out)
	if errors.Is(err, nats.ErrMaxPayload) {
		// Too large for the NATS server: the client gets ErrTooLarge.
		out.Data = nil
		out.Header.Set(hdrError, "too large")
		err = c.nc.PublishMsg(out)
	}
	// A reply that cannot be sent (the connection closed) ends only this
	// request: the client's probe sees the server gone.
	return err
}

func (c *natsServerConn) Close() error { return nil }

// dialer is the connection of this process's "nats:" transports; its
// fields are guarded by its mutex.
var dialer struct {
	sync.Mutex
	nc         *nats.Conn
	registered bool
}

// RegisterManagerDialer makes the addresses "nats:<subject>" reachable
// through nc in this process: DialManager's managers, and the proxies made
// through them, wherever they travel (a process that decodes one must
// have called RegisterManagerDialer first). A call whose server is gone —
// no server subscribed to the subject, or the one that took the request
// died — returns an error matching manager.ErrPeerDead within about a
// quarter of a second; a call the connection's account may not publish to
// the subject returns nats.ErrPermissionViolation as soon; a call whose
// connection is lost while it waits for its reply (which may be lost with
// it) returns an error matching nats.ErrDisconnected, the call applied or
// not; other transport failures return nats.go's error. Called again, it replaces the
// connection: for the transports dialed from then on, and for those whose
// connection has closed.
func RegisterManagerDialer(nc *nats.Conn) {
	dialer.Lock()
	defer dialer.Unlock()
	dialer.nc = nc
	if dialer.registered {
		return
	}
	dialer.registered = true
	manager.RegisterDialer(Scheme, func(ctx context.Context, subject string) (manager.Transport, error) {
		dialer.Lock()
		nc := dialer.nc
		dialer.Unlock()
		return &natsTransport{nc: nc, subject: subject}, nil
	})
}

// DialManager returns a Manager connected to the server that ServeManager
// runs on subject (or a server process started with ManagerServer's
// transport), through the connection given to RegisterManagerDialer: its
// Dicts, Lists, Namespaces and registered objects live in that server, on
// whatever host it runs. It is manager.Connect of "nats:<subject>", and
// makes one round trip; Shutdown on it only drops this process's
// connections.
func DialManager(ctx context.Context, subject string) (*manager.Manager, error) {
	dialer.Lock()
	registered := dialer.registered
	dialer.Unlock()
	if !registered {
		return nil, errors.New("bridge: DialManager before RegisterManagerDialer")
	}
	return manager.Connect(ctx, Scheme+":"+subject)
}

// ManagerServer registers, under name, the server side of this package's
// transport for manager.Start's WithServer(name, subject): the manager's
// server process connects to NATS with connect and serves on subject
// (ServeManager) until the server stops. Call it at package initialisation,
// so that the server process (this program, re-executed) registers it too;
// connect runs in the server process, so it reads its URL and credentials
// from there (a file, the environment), never from Start's arguments.
func ManagerServer(name string, connect func() (*nats.Conn, error)) {
	manager.RegisterServer(name, func(ctx context.Context, m *manager.Manager, subject string) (func(), error) {
		nc, err := connect()
		if err != nil {
			return nil, err
		}
		ready := make(chan error, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveManager(ctx, nc, subject, m, ready)
		}()
		if err := <-ready; err != nil {
			<-done
			nc.Close()
			return nil, err
		}
		return func() { <-done; nc.Close() }, nil
	})
}

// natsTransport is a client's transport to a manager served through NATS:
// one request at a time. Its fields are owned by the goroutine with the
// call in flight (the manager's client hands a transport to one call at a
// time); the probe started by a call only reads them.
type natsTransport struct {
	nc      *nats.Conn
	subject string
	server  string // the instance that answered last
}

func (t *natsTransport) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	if t.nc.IsClosed() { // replaced by a later RegisterManagerDialer?
		dialer.Lock()
		t.nc = dialer.nc
		dialer.Unlock()
	}
	if int64(len(req)) > t.nc.MaxPayload()-headerRoom {
		return nil, fmt.Errorf("%w: a request of %d bytes, over the NATS server's max_payload", manager.ErrTooLarge, len(req))
	}
	msg := nats.NewMsg(t.subject)
	msg.Data = req
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var dead sync.Once
	var deadErr error
	probe := t.subject + ".alive"
	if t.server != "" {
		probe += "." + t.server
	}
	// A call still waiting after probeEvery checks, every probeEvery, that
	// the server is there: one killed after it took the request never
	// answers, and nothing else would tell.
	// A reply sent while this connection is away (a NATS server
	// restarted, the network) reaches nobody, and the server, alive,
	// answers the probes: a call sent on a connection that was up fails
	// once the probe sees that connection lost, saying that its outcome
	// is unknown. (A request made while it is away waits in the reconnect
	// buffer and goes out with it.)
	connected, reconnects := t.nc.IsConnected(), t.nc.Stats().Reconnects
	var timer *time.Timer
	stop := make(chan struct{})
	defer close(stop)
	timer = time.AfterFunc(probeEvery, func() {
		for {
			if connected && (!t.nc.IsConnected() || t.nc.Stats().Reconnects != reconnects) {
				dead.Do(func() {
					deadErr = fmt.Errorf("bridge: calling the manager on %s: the connection to NATS was lost while the call waited for its reply, which may be lost; the call may or may not have been applied: %w", t.subject, nats.ErrDisconnected)
				})
				cancel()
				return
			}
			// A request the account may not publish is dropped by the
			// server, which says so only asynchronously.
			if err := t.nc.LastError(); errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+t.subject+`"`) {
				dead.Do(func() { deadErr = fmt.Errorf("bridge: calling the manager on %s: %w", t.subject, err) })
				cancel()
				return
			}
			pctx, pcancel := context.WithTimeout(rctx, 5*time.Second)
			_, err := t.nc.RequestWithContext(pctx, probe, nil)
			pcancel()
			if errors.Is(err, nats.ErrNoResponders) {
				dead.Do(func() { deadErr = fmt.Errorf("%w: no manager server on %s", manager.ErrPeerDead, t.subject) })
				cancel()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(probeEvery):
			}
		}
	})
	defer timer.Stop()
	reply, err := t.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%w: no manager server on %s", manager.ErrPeerDead, t.subject)
		}
		if ctx.Err() == nil && rctx.Err() != nil {
			timer.Stop()
			dead.Do(func() {})
			if deadErr != nil {
				return nil, deadErr
			}
		}
		return nil, err
	}
	t.server = reply.Header.Get(serverHeader)
	if reply.Header.Get(hdrError) != "" {
		return nil, fmt.Errorf("%w: the reply is over the NATS server's max_payload", manager.ErrTooLarge)
	}
	return reply.Data, nil
}

func (t *natsTransport) Close() error { return nil }

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
