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
	defer s.stop()
	if err := a.Control.SendBytes(ctx, []byte{ctlReady}); err != nil {
		return nil
	}
	// Serve until the creator says so, closes its end or dies.
	a.Control.RecvBytes(ctx)
	return nil
})

// Serve answers the requests of one client arriving through c, a transport
// other than this host's pipes, until the client goes or the server stops.
// Only the process of a server made by New serves that way.
func (m *Manager) Serve(ctx context.Context, c ServerConn) error {
	if m.local == nil {
		return errors.New("manager: Serve needs the in-process server of New")
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
