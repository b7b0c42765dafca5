package manager

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// Manager is a connection to a manager's server, Python's SyncManager: it
// makes Dicts, Lists, Namespaces and objects of registered types that live
// in the server, and native shmkit objects (queues, locks, events, values)
// that need no server at all. The process that started the server (Start or
// New) stops it with Shutdown. A Manager travels to workers among
// process.Start's arguments, and is safe for concurrent use.
type Manager struct {
	addr string
	c    *client

	// The creator's side only.
	proc    *process.Process   // Start's server process
	control *pipe.Conn[[]byte] // to the server process
	local   *server            // New's in-process server
	name    string             // the listener's name
	once    sync.Once
	err     error
}

// Start starts a manager's server in a new process (this program,
// re-executed by package process: main must call process.Main) and returns
// once it is ready, Python's Manager(). ctx bounds the start only. The
// server stops with Shutdown, or when this process dies. Like Python's, it
// ignores SIGINT, which Ctrl-C in a terminal sends to its creator's
// process group, so that a creator that catches it can still use the
// server's objects while it winds down.
//
// Clients reach the server through pipes in shared memory, one per calling
// goroutine in flight, dialed by name; nothing crosses a socket.
//
// Options add transports of other kinds that the server process serves
// besides (WithServer).
func Start(ctx context.Context, opts ...Option) (*Manager, error) {
	mine, theirs, err := pipe.New(pipe.Options[[]byte]{Capacity: 4096})
	if err != nil {
		return nil, err
	}
	name := listenName()
	args := serverArgs{Name: name, Control: theirs}
	for _, o := range opts {
		o(&args)
	}
	// The server outlives no one: it stops when the control pipe says its
	// creator died (Detached, so that it may remove its listener first).
	p, err := serverProcess.Start(context.Background(), args,
		process.Detached(), process.WithName("SyncManager"))
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, err
	}
	msg, err := mine.RecvBytes(ctx)
	if err == nil && (len(msg) == 0 || msg[0] != ctlReady) {
		err = fmt.Errorf("manager: the server did not start: %s", msg[min(1, len(msg)):])
	}
	if err != nil {
		p.Kill()
		p.Wait()
		mine.Close()
		shm.Unlink(name)
		return nil, err
	}
	m := &Manager{addr: "shm:" + name, proc: p, control: mine, name: name}
	if m.c, err = clientFor(m.addr); err != nil {
		return nil, err
	}
	return m, nil
}

// New starts a manager's server inside this process, as goroutines: calls
// from this process skip the transport, and workers given the Manager or its
// proxies reach it through pipes as they would a server process. Shutdown
// stops it.
func New() (*Manager, error) {
	name := listenName()
	s, err := startServer(name)
	if err != nil {
		return nil, err
	}
	return localManager(s, name), nil
}

// localManager returns the Manager of the server s in its own process: its
// calls go straight to the store.
func localManager(s *server, name string) *Manager {
	m := &Manager{addr: "shm:" + name, local: s, name: name}
	m.c = &client{addr: m.addr, dial: func(context.Context) (Transport, error) {
		return &localTransport{s: s}, nil
	}}
	clients.Lock()
	clients.m[m.addr] = m.c
	clients.Unlock()
	return m
}

// Connect returns a Manager for the server at addr, "scheme:..." of a
// registered Dialer (RegisterDialer): a server that another process
// started, reached through a transport of another kind, say. Proxies made
// through it carry addr. It makes one round trip to check that the server
// answers: where no server listens at addr, its error says so and matches
// ErrClosed. Its Shutdown only drops this process's connections.
func Connect(ctx context.Context, addr string) (*Manager, error) {
	c, err := clientFor(addr)
	if err != nil {
		return nil, err
	}
	m := &Manager{addr: addr, c: c}
	if err := m.Ping(ctx); err != nil {
		if errors.Is(err, pipe.ErrRefused) {
			return nil, &noServerError{addr: addr, err: err}
		}
		return nil, err
	}
	return m, nil
}

// Addr returns the server's address, "shm:" and its listener's name.
func (m *Manager) Addr() string { return m.addr }

// ShutdownGrace is how long a stopping server waits for the calls it is
// running (a registered method that never returns would keep it, and
// Shutdown, waiting for ever), and then for its transports' stops
// (WithServer): after it, a server process exits without them, as
// Python's manager terminates its server a second after asking it to
// stop.
const ShutdownGrace = time.Second

// shutdownKill is how long after it asked the server process to stop
// Shutdown kills it if it has not exited: two ShutdownGraces (its calls,
// then its transports' stops) and 10 s more.
const shutdownKill = 2*ShutdownGrace + 10*time.Second

// Shutdown stops the server (Python's shutdown) and waits for it: calls
// from any process then fail with ErrClosed. Only the process that started
// the server may shut it down; in another, Shutdown only closes this
// process's idle connections to it, and later calls connect again. The
// server waits ShutdownGrace at most for the calls it is running (a
// registered method that has not returned) and goes on stopping without
// them: a server process exits, and their callers get ErrPeerDead; an
// in-process server's (New) method goes on in its goroutine, and its
// caller waits for it. It returns an error when the server process had
// died before, or did not exit and was killed. Calling it twice is
// harmless.
func (m *Manager) Shutdown() error {
	m.once.Do(func() {
		switch {
		case m.local != nil:
			m.local.stop()
		case m.proc != nil:
			ctx, cancel := context.WithTimeout(context.Background(), shutdownKill)
			defer cancel()
			m.control.SendBytes(ctx, []byte{ctlShutdown})
			killed := false
			select {
			case <-m.proc.Done():
			case <-ctx.Done():
				killed = m.proc.Kill() == nil
			}
			m.err = m.proc.Wait()
			m.control.Close()
			switch {
			case killed:
				m.err = fmt.Errorf("manager: the server process did not exit %v after Shutdown and was killed", shutdownKill)
			case m.err != nil:
				m.err = fmt.Errorf("manager: the server process had died: %w (%w)", ErrPeerDead, m.err)
			}
			// A server that was killed leaves its listener's name behind.
			if err := shm.Unlink(m.name); err != nil && !errors.Is(err, shm.ErrNotExist) && m.err == nil {
				m.err = err
			}
		default: // not the creator: drop this process's connections; the server goes on
			m.c.closeIdle()
			return
		}
		m.c.forget(ErrClosed)
	})
	return m.err
}

// Ping makes one round trip to the server.
func (m *Manager) Ping(ctx context.Context) error {
	w := getBuf(opPing, 0)
	defer putBuf(w)
	return m.c.roundTrip(ctx, w.b, nil)
}

// create makes an object in the server.
func (m *Manager) create(ctx context.Context, kind byte, typ string) (ref, error) {
	w := getBuf(opNew, 0)
	defer putBuf(w)
	w.byte(kind)
	w.str(typ)
	var id uint64
	err := m.c.roundTrip(ctx, w.b, func(r *rbuf) error { id = r.uvarint(); return nil })
	return ref{c: m.c, id: id}, err
}

type handle struct {
	Addr string
	ID   uint64
}

// GobEncode encodes a handle to the manager: its server's address.
func (m *Manager) GobEncode() ([]byte, error) { return gobEncode(handle{Addr: m.addr}) }

// GobDecode connects to the server a handle names.
func (m *Manager) GobDecode(b []byte) error {
	var h handle
	if err := gobDecode(b, &h); err != nil {
		return err
	}
	c, err := clientFor(h.Addr)
	m.addr, m.c = h.Addr, c
	return err
}

// ref is a proxy's link to its object: the server's client and the
// object's id.
type ref struct {
	c  *client
	id uint64
}

// encode encodes a handle to the object: its server's address and id.
// A nil or zero proxy encodes as an empty handle, and decodes as a zero
// proxy.
func (r ref) encode() ([]byte, error) {
	if r.c == nil {
		return gobEncode(handle{})
	}
	return gobEncode(handle{Addr: r.c.addr, ID: r.id})
}

// decode connects to the object's server, the proxy's own transport in
// this process.
func (r *ref) decode(b []byte) error {
	var h handle
	if err := gobDecode(b, &h); err != nil {
		return err
	}
	if h.Addr == "" {
		*r = ref{}
		return nil
	}
	c, err := clientFor(h.Addr)
	r.c, r.id = c, h.ID
	return err
}

// begin starts a request on the object.
func (r *ref) begin(o op) (*client, *wbuf, error) {
	if r.c == nil {
		return nil, nil, errors.New("manager: a zero proxy; make it with its manager")
	}
	return r.c, getBuf(o, r.id), nil
}

// do sends the request built in w and releases w.
func (c *client) do(ctx context.Context, w *wbuf, read func(r *rbuf) error) error {
	defer putBuf(w)
	return c.roundTrip(ctx, w.b, read)
}

func (c *client) release(w *wbuf) { putBuf(w) }

var bufs = sync.Pool{New: func() any { return new(wbuf) }}

func getBuf(o op, id uint64) *wbuf {
	w := bufs.Get().(*wbuf)
	w.reset(o, id)
	return w
}

func putBuf(w *wbuf) {
	if cap(w.b) <= 64<<10 {
		bufs.Put(w)
	}
}

// call is the common shape of a one-round-trip proxy method.
func (r *ref) call(ctx context.Context, o op, put func(w *wbuf) error, read func(r *rbuf) error) error {
	c, w, err := r.begin(o)
	if err != nil {
		return err
	}
	if put != nil {
		if err := put(w); err != nil {
			c.release(w)
			return err
		}
	}
	return c.do(ctx, w, read)
}

func gobEncode(h handle) ([]byte, error) {
	var b gobBuf
	err := gob.NewEncoder(&b).Encode(h)
	return b, err
}

func gobDecode(p []byte, h *handle) error {
	b := gobBuf(p)
	return gob.NewDecoder(&b).Decode(h)
}

type gobBuf []byte

func (b *gobBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func (b *gobBuf) Read(p []byte) (int, error) {
	if len(*b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, *b)
	*b = (*b)[n:]
	return n, nil
}
