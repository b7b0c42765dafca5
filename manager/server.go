package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// server serves a store: it accepts the pipes that clients dial by name and
// runs one goroutine per client.
type server struct {
	st     *store
	ln     *pipe.Listener[[]byte]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   atomic.Bool
}

var listenSeq atomic.Uint64

func listenName() string {
	return fmt.Sprintf("shmkit-manager-%d-%d", os.Getpid(), listenSeq.Add(1))
}

func startServer(name string) (*server, error) {
	ln, err := pipe.Listen(name, pipeOptions())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{st: newStore(MaxMessage, pageBytes), ln: ln, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, pipe.ErrClosed) {
				return
			}
			continue // a dialer of another type or codec was refused
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(s.ctx, pipeServerConn{c})
		}()
	}
}

// serve answers one client's requests until it goes or the server stops.
func (s *server) serve(ctx context.Context, c ServerConn) {
	defer c.Close()
	var buf []byte
	for {
		req, err := c.Next(ctx)
		if err != nil {
			return // the client closed, died (a half-written request is never seen) or we stop
		}
		buf = s.st.handle(req, buf)
		if err := c.Reply(ctx, buf); err != nil {
			return
		}
	}
}

func (s *server) stopped() bool { return s.done.Load() }

// stop closes the listener and every client's channel, and waits for the
// goroutines.
func (s *server) stop() {
	if s.done.Swap(true) {
		return
	}
	s.cancel()
	s.ln.Close()
	s.wg.Wait()
}

// serverArgs are the server process's arguments.
type serverArgs struct {
	Name    string
	Control *pipe.Conn[[]byte] // to the creator: ready, then shutdown or the creator's death
	Servers []serverSpec       // WithServer's transports
}

// serverSpec names a registered ServerFunc and its argument.
type serverSpec struct{ Name, Arg string }

// ServerFunc serves a manager's server over a transport of another kind (a
// request-reply transport between hosts, say) in the server process that
// Start started with WithServer. It sets the transport up and returns: an
// error fails Start, with its text. It leaves goroutines that hand each
// client's connection to m.Serve until ctx is done, which happens when the
// server stops (Shutdown, or its creator's death). The server then calls
// stop (when not nil) and waits for it before the process exits: stop
// closes what the transport opened (subscriptions, listeners) and returns
// once its goroutines are done.
// m is the server's own Manager: m.Serve answers from the server's objects,
// and proxies made through m carry the server's "shm:" address.
type ServerFunc func(ctx context.Context, m *Manager, arg string) (stop func(), err error)

var servers = named[ServerFunc]{what: "server transport"}

// RegisterServer registers f as the server side of the transport name, for
// WithServer. Call it at package initialisation (a package-level var or
// init), as process.Register, so that the server process, this program
// re-executed, registers it too. Registering a name twice panics.
func RegisterServer(name string, f ServerFunc) { servers.add(name, f) }

// Option configures Start.
type Option func(*serverArgs)

// WithServer makes the server process serve the transport registered as
// name (RegisterServer) besides this host's pipes, calling its ServerFunc
// with arg (a subject, an address) before it reports ready.
func WithServer(name, arg string) Option {
	return func(a *serverArgs) { a.Servers = append(a.Servers, serverSpec{Name: name, Arg: arg}) }
}

// startServers runs the ServerFuncs of specs in the server process s and
// returns their stop functions, to call once s has stopped.
func startServers(s *server, name string, specs []serverSpec) (stops []func(), err error) {
	if len(specs) == 0 {
		return nil, nil
	}
	m := localManager(s, name)
	for _, sp := range specs {
		f := servers.get(sp.Name)
		if f == nil {
			return stops, fmt.Errorf("manager: no server transport %q registered (RegisterServer) in the server's program", sp.Name)
		}
		stop, err := f(s.ctx, m, sp.Arg)
		if err != nil {
			return stops, fmt.Errorf("manager: server transport %q: %w", sp.Name, err)
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	return stops, nil
}

// Control messages.
const (
	ctlReady    = 'R'
	ctlFailed   = 'E' // followed by the error's text
	ctlShutdown = 'S'
)

var serverProcess = process.Register("shmkit.manager.server", func(ctx context.Context, a serverArgs) error {
	defer a.Control.Close()
	s, err := startServer(a.Name)
	if err != nil {
		a.Control.SendBytes(ctx, append([]byte{ctlFailed}, err.Error()...))
		return err
	}
	stops, err := startServers(s, a.Name, a.Servers)
	defer func() {
		s.stop() // ends the transports' Serve calls too
		for _, stop := range stops {
			stop()
		}
	}()
	if err != nil {
		a.Control.SendBytes(ctx, append([]byte{ctlFailed}, err.Error()...))
		return err
	}
	if err := a.Control.SendBytes(ctx, []byte{ctlReady}); err != nil {
		return nil
	}
	// Serve until the creator says so, closes its end or dies.
	a.Control.RecvBytes(ctx)
	return nil
})

// Serve answers the requests of one client arriving through c, a transport
// other than this host's pipes, until the client goes, ctx ends or the
// server stops. Only the process that holds the server serves: the caller
// of New, or a server process, through the Manager its ServerFunc is given
// (WithServer).
func (m *Manager) Serve(ctx context.Context, c ServerConn) error {
	if m.local == nil {
		return errors.New("manager: Serve needs the server's own process (New, or a ServerFunc of Start's WithServer)")
	}
	if m.local.stopped() {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.local.ctx, cancel)
	defer stop()
	m.local.serve(ctx, c)
	return nil
}
