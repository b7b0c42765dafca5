package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shmkit/shmkit/internal/spin"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// server serves a store: it accepts the pipes that clients dial by name.
//
// Each client's pipe has an owner goroutine that waits for its requests
// (spin, then park). One goroutine at a time, the poller, serves every
// client that keeps sending: it looks at their pipes in turn, without
// blocking, and answers what it finds. An owner that has answered a
// request hands its pipe over to the poller, or, when nobody polls,
// becomes the poller itself (no goroutine to wake); the poller hands a
// pipe back when its client has sent nothing for pollIdle, has gone, sent
// a request that may take long (a user's code, a batch, an object whose
// mutex another goroutine holds), or has no room for its reply (it sends
// without reading): the owner serves that one, and the other clients go
// on. One goroutine serves a pipe at a time. So a busy server runs one
// thread however many clients it has, not a spinning goroutine per client
// that holds a CPU the others' requests wait for; an idle one parks every
// goroutine.
type server struct {
	st     *store
	ln     *pipe.Listener[[]byte]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   atomic.Bool

	pmu      sync.Mutex   // guards polling, handed and pollDone
	polling  bool         // a goroutine is the poller
	handed   []*pconn     // pipes handed over to the poller, not yet in its turn
	nhanded  atomic.Int32 // len(handed), for the poller to look at without pmu
	pollDone bool         // the server stops: owners keep their pipes

	lastPipe atomic.Pointer[pconn] // the pipe whose owner answered last (others)
	lastAt   atomic.Int64          // when (spin.Now)
}

// pconn is a client's pipe on the server. Its owner goroutine serves it
// until it hands it over to the poller (handOver); from then the poller
// alone serves it, until it sends on back.
type pconn struct {
	c      *pipe.Conn[[]byte]
	back   chan struct{} // (cap 1) the poller hands the pipe back
	buf    []byte        // the reply, built by whichever goroutine serves
	seen   int64         // poller: when it last served the pipe (spin.Now), to a pollCheck
	served bool          // poller: served since seen
	unsent bool          // buf is a reply the poller had no room for: the owner sends it (written before back)
}

var listenSeq atomic.Uint64

func listenName() string {
	return fmt.Sprintf("shmkit-manager-%d-%d", os.Getpid(), listenSeq.Add(1))
}

func startServer(name string) (*server, error) {
	ln, err := pipe.Listen(name, pipeOptions())
	if errors.Is(err, shm.ErrExist) && removeDead(name) {
		ln, err = pipe.Listen(name, pipeOptions())
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{st: newStore(MaxMessage, pageBytes), ln: ln, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// removeDead removes the segment called name when the process that
// created it is dead, and reports whether it did. A listener's name is its
// creator's PID and a count of that process's managers, so a process that
// got the PID of a dead one meets the names that one left (a server killed
// before it removed its listener), and New and Start under them failed
// with ErrExist until something collected them.
func removeDead(name string) bool {
	info, err := shm.Stat(name)
	if err != nil || info.CreatorAlive || info.CreatorElsewhere {
		return false // a live process's, or one this process cannot judge
	}
	return shm.Unlink(name) == nil
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
		go s.own(&pconn{c: c, back: make(chan struct{}, 1)})
	}
}

// own is the owner goroutine of a client's pipe: it serves the client
// while the poller does not, and closes the pipe when the client goes
// (closed, died: a half-written request is never seen) or the server stops.
func (s *server) own(pc *pconn) {
	defer s.wg.Done()
	defer pc.c.Close()
	for {
		if !pc.unsent {
			req, err := pc.c.Peek(s.ctx) // the request the poller handed back with, if any
			if err != nil {
				return
			}
			pc.buf = s.st.handle(req, pc.buf)
			pc.c.Discard()
		}
		pc.unsent = false
		if err := pc.c.SendBytes(s.ctx, pc.buf); err != nil {
			return
		}
		now := spin.Now()
		switch s.handOver(pc, s.others(pc, now)) {
		case handedOver:
			<-pc.back
		case becamePoller:
			pc.seen, pc.served = now, false
			s.poll(pc, []*pconn{pc})
		}
	}
}

// others reports whether an owner other than pc's answered a request
// within pollIdle before now, and records pc's answer: with no other
// client about, nobody polls, and a client is served by its pipe's owner
// alone (the pipe's learnt spin, then a park), as a goroutine of its own
// would serve it.
func (s *server) others(pc *pconn, now int64) bool {
	other := s.lastPipe.Load() != pc && now-s.lastAt.Load() < int64(pollIdle)
	s.lastPipe.Store(pc)
	s.lastAt.Store(now)
	return other
}

// What handOver did.
const (
	kept         = iota // the server stops, or nobody polls and no other client is about: the owner keeps its pipe
	handedOver          // to the poller, who hands it back on back
	becamePoller        // nobody polled: the owner polls now
)

// handOver gives pc to the poller, or, when nobody polls and others says
// that another client is about, makes its owner the poller.
func (s *server) handOver(pc *pconn, others bool) int {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	switch {
	case s.pollDone:
		return kept
	case s.polling:
		s.handed = append(s.handed, pc)
		s.nhanded.Store(int32(len(s.handed)))
		return handedOver
	case !others:
		return kept
	}
	s.polling = true
	return becamePoller
}

// takeHanded appends the pipes handed over to active. Once the server
// stops, it hands back every pipe but own and reports false: the poller
// returns, and later handOvers keep their pipes.
func (s *server) takeHanded(own *pconn, active []*pconn) ([]*pconn, bool) {
	s.pmu.Lock()
	now := spin.Now()
	for _, pc := range s.handed {
		pc.seen, pc.served = now, false
	}
	active = append(active, s.handed...)
	clear(s.handed)
	s.handed = s.handed[:0]
	s.nhanded.Store(0)
	if !s.done.Load() {
		s.pmu.Unlock()
		return active, true
	}
	s.pollDone, s.polling = true, false
	s.pmu.Unlock()
	for _, pc := range active {
		if pc != own {
			pc.back <- struct{}{}
		}
	}
	return nil, false
}

// stopPolling ends this goroutine's turn as the poller: polling goes on in
// a new goroutine for the pipes of active (own taken out) and those handed
// over, if there are any.
func (s *server) stopPolling(active []*pconn) {
	s.pmu.Lock()
	if len(active) == 0 && len(s.handed) == 0 {
		s.polling = false
		s.pmu.Unlock()
		return
	}
	s.pmu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.poll(nil, active)
	}()
}

// Polling. The poller hands a pipe back to its owner once its client has
// sent nothing for pollIdle (pollAlone when it is the only one). When a whole turn of the pipes finds no
// request, it pauses (spin.Relax) before the next turn; after
// pollYieldAfter such turns in a row it yields its CPU between turns
// instead (sched_yield): on a machine with more busy threads than CPUs the
// clients it waits for run then, and on an idle one the yield returns at
// once.
const (
	pollIdle       = 100 * time.Microsecond
	pollAlone      = 5 * time.Microsecond
	pollYieldAfter = 64
	pollCheck      = 32
)

// idleLimit is how long the poller keeps a silent pipe among n in its
// turn: pollIdle while it serves several, pollAlone for the last one.
// Alone, a pipe goes back to its owner after a few microseconds of
// silence, to the pipe's own wait (its learnt spin, then a park): one
// client, whose requests either follow each other within a microsecond or
// wait for a CPU, is served as it would be by a goroutine of its own.
func idleLimit(n int) int64 {
	if n == 1 {
		return int64(pollAlone)
	}
	return int64(pollIdle)
}

// poll is the poller: it serves the pipes of active, and those handed over
// later, in turn, until none is left. own, when not nil, is the pipe of
// the owner goroutine that polls: it stays in the turn while others are
// there, and when it must leave (a request of its own that may take long,
// its client gone), the poller goes on in a new goroutine and poll returns
// to own's owner.
//
// A look at a pipe with nothing in it is a few loads (Ready); the clock is
// read every pollCheck turns, to see which pipes have been silent for
// pollIdle.
func (s *server) poll(own *pconn, active []*pconn) {
	idle := 0 // turns in a row that served nothing
	for turn := 1; ; turn++ {
		if s.nhanded.Load() != 0 || s.done.Load() {
			var ok bool
			if active, ok = s.takeHanded(own, active); !ok {
				return
			}
		}
		check := turn%pollCheck == 0
		var now int64
		if check {
			now = spin.Now()
		}
		served := false
		for i := 0; i < len(active); {
			pc := active[i]
			if check && pc.served {
				pc.served, pc.seen = false, now
			}
			keep := true
			if pc.c.Ready() {
				req, err := pc.c.Peek(lookOnce)
				switch {
				case err == nil:
					var ok bool
					if pc.buf, ok = s.st.tryHandle(req, pc.buf); ok {
						pc.c.Discard()
						// The poller never waits for one client: a reply its
						// ring has no room for (a client that sends without
						// reading) goes back with the pipe, and the owner
						// waits to send it, while the others are served.
						err := pc.c.SendBytes(lookOnce, pc.buf)
						keep = err == nil
						pc.unsent = errors.Is(err, context.Canceled)
						pc.served, served = true, true
					} else {
						keep = false // the owner serves it: it may take long
					}
				case err != context.Canceled:
					keep = false // the client closed, or the server stops: the owner's Peek says
				}
			} else if check && now-pc.seen >= idleLimit(len(active)) && (pc != own || len(active) == 1) {
				keep = false // silent (or dead: the owner's Peek says)
			}
			if keep {
				i++
				continue
			}
			active[i] = active[len(active)-1]
			active[len(active)-1] = nil
			active = active[:len(active)-1]
			if pc == own {
				s.stopPolling(active)
				return
			}
			pc.back <- struct{}{}
		}
		if served {
			idle = 0
			continue
		}
		if len(active) == 0 {
			s.pmu.Lock()
			if len(s.handed) == 0 {
				s.polling = false
				s.pmu.Unlock()
				return
			}
			s.pmu.Unlock()
			continue
		}
		if idle++; idle < pollYieldAfter {
			spin.Relax()
		} else {
			spin.YieldToRuntime() // not Yield: nothing bounds how long this loop yields
		}
	}
}

// lookOnce is a context that is done already: a Peek given it looks at the
// pipe once and returns its error (context.Canceled) when no request is
// there, a SendBytes when the ring has no room.
var lookOnce = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

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
// goroutines, ShutdownGrace at most: one that runs a registered method
// that has not returned is left to it (a server process then exits
// without it, as Python's manager terminates its server).
func (s *server) stop() {
	if s.done.Swap(true) {
		return
	}
	s.cancel()
	s.ln.Close()
	within(ShutdownGrace, s.wg.Wait)
}

// within runs each of fs in a goroutine of its own and waits for them, d
// at most: those still running then are left to themselves.
func within(d time.Duration, fs ...func()) {
	done := make(chan struct{}, len(fs)) // buffered: one left behind does not block
	for _, f := range fs {
		go func() {
			defer func() { done <- struct{}{} }()
			f()
		}()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for range fs {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
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
// stop (when not nil) and waits for it, ShutdownGrace at most, before the
// process exits: stop closes what the transport opened (subscriptions,
// listeners; a name that would outlive the process first, before it
// waits) and returns once its goroutines are done (a Serve call that runs
// a method that has not returned keeps it waiting past the grace).
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
	// Ctrl-C in a terminal sends SIGINT to the foreground process group,
	// which this process shares with its creator: the creator may catch it
	// and still need its objects while it winds down, so the server
	// ignores it, as Python's does (bpo-36368). Before ready: once Start
	// returns, a SIGINT cannot end the server.
	signal.Ignore(syscall.SIGINT)
	defer a.Control.Close()
	s, err := startServer(a.Name)
	if err != nil {
		a.Control.SendBytes(ctx, append([]byte{ctlFailed}, err.Error()...))
		return err
	}
	stops, err := startServers(s, a.Name, a.Servers)
	defer func() {
		s.stop() // ends the transports' Serve calls too
		// A transport's stop waits for its Serve calls, and one that
		// runs a method that never returns would keep it waiting: the
		// process exits without them after ShutdownGrace, as s.stop
		// does without its own calls.
		within(ShutdownGrace, stops...)
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
