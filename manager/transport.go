package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// Transport carries one client's requests to a manager's server and the
// replies back, one request at a time: it is the part a transport between
// hosts replaces. RoundTrip sends req as one message and returns the
// server's reply, valid until the next RoundTrip; when ctx ends or the
// transport fails mid-call, the client closes the transport and dials a new
// one, so a reply is never matched with the wrong request. A transport whose
// server died returns an error matching ErrPeerDead, promptly.
type Transport interface {
	RoundTrip(ctx context.Context, req []byte) ([]byte, error)
	Close() error
}

// ServerConn is the server's end of one client's transport. Next waits for
// the next request (its bytes valid until Reply; it may be shared memory);
// Reply sends the reply to it. Next returns an error once the client has
// gone (closed, died, or ctx ended), and the server then calls Close.
type ServerConn interface {
	Next(ctx context.Context) ([]byte, error)
	Reply(ctx context.Context, reply []byte) error
	Close() error
}

// Dialer connects to the server at addr, the part of a manager's address
// after its scheme and colon.
type Dialer func(ctx context.Context, addr string) (Transport, error)

// named is a registry of functions by name, filled at initialisation.
type named[F any] struct {
	what string // for the panic of a name registered twice
	mu   sync.RWMutex
	m    map[string]F
}

func (r *named[F]) add(name string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic("manager: " + r.what + " " + name + " registered twice")
	}
	if r.m == nil {
		r.m = make(map[string]F)
	}
	r.m[name] = f
}

func (r *named[F]) get(name string) F {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name]
}

var dialers = named[Dialer]{what: "dialer", m: map[string]Dialer{"shm": dialPipe}}

// RegisterDialer makes the addresses "scheme:..." reachable through dial,
// in every process that decodes such a manager's proxies. The built-in
// scheme "shm" dials a server on this host through a pipe.
func RegisterDialer(scheme string, dial Dialer) { dialers.add(scheme, dial) }

// ChannelSize is the ring size of each direction of a client's pipe to a
// server on this host. A request or reply that fits a ring record (about
// half) travels in the ring; a larger one, up to MaxMessage, goes out of
// line through the pipe's arena of shared pages, reserved as it is used.
const ChannelSize = 64 << 10

// MaxMessage is the largest request or reply: a larger SetMany, GetMany or
// Extend batch, or a single larger value, fails with ErrTooLarge.
// Iterations come in pages of about a ring record (one item per page when
// an item is larger).
const MaxMessage = pipe.DefaultMaxMessage

// pageBytes is the size a page of an iteration stops at before passing it:
// a page fits the ring, unless one item alone does not.
var pageBytes = ringbuf.MaxRecord(ChannelSize) - 64

func pipeOptions() pipe.Options[[]byte] {
	return pipe.Options[[]byte]{Capacity: ChannelSize, MaxMessage: MaxMessage}
}

// pipeTransport is a client's end of a pipe to a server on this host. The
// reply it returns is the pipe's message in place, in shared memory, with
// no copy: the client discards it once the call has read it (release), so
// that an idle pipe of the pool holds no reply (a large one holds pages of
// the pipe's arena); the next round trip or Close discards it otherwise.
type pipeTransport struct {
	c    *pipe.Conn[[]byte]
	held bool // a reply was peeked and not yet discarded
}

func dialPipe(ctx context.Context, name string) (Transport, error) {
	c, err := pipe.Dial(ctx, name, pipeOptions())
	if errors.Is(err, pipe.ErrRefused) {
		// A listener whose process died leaves its name behind.
		if info, serr := shm.Stat(name); serr == nil && !info.CreatorAlive {
			return nil, fmt.Errorf("%w: the server %s died", ErrPeerDead, name)
		}
	}
	if err != nil {
		return nil, err
	}
	return &pipeTransport{c: c}, nil
}

func (t *pipeTransport) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	t.release()
	if len(req) > MaxMessage {
		return nil, ErrTooLarge
	}
	if err := t.c.SendBytes(ctx, req); err != nil {
		return nil, err
	}
	p, err := t.c.Peek(ctx)
	if err != nil {
		return nil, err
	}
	t.held = true
	return p, nil
}

// release discards the reply of the last round trip: its bytes are no
// longer valid.
func (t *pipeTransport) release() {
	if t.held {
		t.c.Discard()
		t.held = false
	}
}

func (t *pipeTransport) Close() error { t.release(); return t.c.Close() }

// localTransport calls an in-process server's store directly.
type localTransport struct {
	s     *server
	reply []byte
}

func (t *localTransport) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	if t.s.stopped() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(req) > MaxMessage { // as a pipe would refuse it
		return nil, ErrTooLarge
	}
	reply, err := t.s.st.handleContext(ctx, req, t.reply)
	t.reply = reply
	return reply, err
}

func (t *localTransport) Close() error { return nil }

// client is this process's connection to one server: a pool of idle
// transports, one per call in flight, dialed as needed.
type client struct {
	addr string
	dial func(ctx context.Context) (Transport, error)

	mu   sync.Mutex
	idle []Transport
	dead error // once set (ErrPeerDead, ErrClosed), every call returns it
}

var clients = struct {
	sync.Mutex
	m map[string]*client
}{m: make(map[string]*client)}

// clientFor returns this process's client of the server at addr.
func clientFor(addr string) (*client, error) {
	clients.Lock()
	defer clients.Unlock()
	if c := clients.m[addr]; c != nil {
		return c, nil
	}
	scheme, rest, ok := strings.Cut(addr, ":")
	d := dialers.get(scheme)
	if !ok || d == nil {
		return nil, fmt.Errorf("manager: no transport for the address %q", addr)
	}
	c := &client{addr: addr, dial: func(ctx context.Context) (Transport, error) { return d(ctx, rest) }}
	clients.m[addr] = c
	return c, nil
}

// closeIdle closes c's idle transports; later calls dial new ones.
func (c *client) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, t := range idle {
		t.Close()
	}
}

// forget closes c's idle transports and makes its later calls return err.
func (c *client) forget(err error) {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = err // from here finish closes the transports it gets back
	}
	c.mu.Unlock()
	c.closeIdle()
	clients.Lock()
	if clients.m[c.addr] == c {
		delete(clients.m, c.addr)
	}
	clients.Unlock()
}

// roundTrip sends req and hands the reply's status-checked rest to read.
//
// A ctx already done sends nothing; one that ends while the call waits for
// its reply leaves the request applied or not, as with any remote call.
func (c *client) roundTrip(ctx context.Context, req []byte, read func(r *rbuf) error) error {
	r, t, err := c.send(ctx, req)
	if err == nil && read != nil {
		err = read(&r)
	}
	return c.finish(t, &r, err)
}

// send sends req and returns its reply past the status, and the transport
// that carried it (nil when it failed), for finish. A reply that reports an
// error returns it with the transport.
func (c *client) send(ctx context.Context, req []byte) (rbuf, Transport, error) {
	if err := ctx.Err(); err != nil {
		return rbuf{}, nil, err
	}
	if len(req) > MaxMessage {
		return rbuf{}, nil, ErrTooLarge
	}
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		return rbuf{}, nil, c.dead
	}
	var t Transport
	if n := len(c.idle); n > 0 {
		t = c.idle[n-1]
		c.idle = c.idle[:n-1]
	}
	c.mu.Unlock()
	if t == nil {
		var err error
		if t, err = c.dial(ctx); err != nil {
			if errors.Is(err, ErrPeerDead) {
				c.forget(ErrPeerDead)
				return rbuf{}, nil, err
			}
			if errors.Is(err, pipe.ErrRefused) {
				return rbuf{}, nil, fmt.Errorf("%w: %w", ErrClosed, err)
			}
			return rbuf{}, nil, err
		}
	}
	reply, err := t.RoundTrip(ctx, req)
	if err != nil {
		t.Close()
		switch {
		case errors.Is(err, ErrPeerDead):
			c.forget(ErrPeerDead)
			return rbuf{}, nil, ErrPeerDead
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe), errors.Is(err, pipe.ErrClosed):
			return rbuf{}, nil, ErrClosed
		}
		return rbuf{}, nil, err
	}
	r := rbuf{b: reply}
	return r, t, replyError(&r)
}

// releaser is a Transport whose reply holds resources until released.
type releaser interface{ release() }

// finish ends a call that send started: a reply that did not decode is
// ErrBadReply, and the transport goes back to the pool (the reply's bytes
// with it).
func (c *client) finish(t Transport, r *rbuf, err error) error {
	if t == nil {
		return err
	}
	if err == nil && r.err != nil {
		err = fmt.Errorf("%w: %w", ErrBadReply, r.err)
	}
	if rt, ok := t.(releaser); ok {
		rt.release() // the reply is read
	}
	c.mu.Lock()
	if c.dead == nil {
		c.idle = append(c.idle, t)
		t = nil
	}
	c.mu.Unlock()
	if t != nil {
		t.Close()
	}
	return err
}
