package bridge_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// A manager served through NATS: its server is a process of its own (host
// A: manager.New and ServeManager), its clients processes of other
// "hosts" that reach it only through the NATS server the test runs, which
// authenticates users by password.

const (
	mgrSubject = "shmkit.test.manager"
	mgrUser    = "mgr"
	mgrPass    = "s3cret"
	mgrReader  = "reader" // may connect, not publish to mgrSubject
)

type mgrArgs struct {
	URL, User, Pass string
	Dict            []byte // the Dict's handle, decoded once the dialer is registered
	Worker, N       int
}

func (a mgrArgs) connect() (*nats.Conn, error) {
	return nats.Connect(a.URL, nats.UserInfo(a.User, a.Pass))
}

// holdUpdate, with a negative argument, tells the test (the server
// process's File(0)) that the server is inside it, and waits there to be
// killed.
var holdUpdate = manager.RegisterUpdate("bridge-test-hold", func(old int64, ok bool, arg int64) (int64, error) {
	if arg < 0 {
		process.File(0).Write([]byte("held\n"))
		for {
			unix.Pause()
		}
	}
	return old + arg, nil
})

// mgrServe serves a manager on mgrSubject until the test closes
// process.File(1); it first writes the manager's address to File(0).
var mgrServe = process.Register("bridge-manager-serve", func(ctx context.Context, a mgrArgs) error {
	m, err := manager.New()
	if err != nil {
		return err
	}
	defer m.Shutdown()
	nc, err := a.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, process.File(1))
		cancel()
	}()
	process.File(0).Write([]byte(m.Addr() + "\n"))
	return bridge.ServeManager(ctx, nc, mgrSubject, m)
})

// mgrClient is a host's process: N atomic adds to "hits" and N sets of
// keys of its own, each read back.
var mgrClient = process.Register("bridge-manager-client", func(ctx context.Context, a mgrArgs) error {
	nc, err := a.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	bridge.RegisterManagerDialer(nc)
	d := new(manager.Dict[string, int64])
	if err := d.GobDecode(a.Dict); err != nil {
		return err
	}
	for i := range a.N {
		if _, err := d.Add(ctx, "hits", 1); err != nil {
			return err
		}
		k := fmt.Sprintf("w%d-%06d", a.Worker, i)
		if err := d.Set(ctx, k, int64(i)); err != nil {
			return err
		}
		v, ok, err := d.Get(ctx, k)
		if err != nil || !ok || v != int64(i) {
			return fmt.Errorf("get %s: %d %v %v", k, v, ok, err)
		}
	}
	return nil
})

// mgrDeath: a client that makes a dict through DialManager, tells the test
// (File(0)) and then, on the test's word (File(1)), calls: "after" once
// the server is killed, "during" a call the server is held in when it is
// killed. Each call must fail with manager.ErrPeerDead within 10 s.
var mgrDeath = process.Register("bridge-manager-death", func(ctx context.Context, a mgrArgs) error {
	nc, err := a.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	bridge.RegisterManagerDialer(nc)
	m, err := bridge.DialManager(ctx, mgrSubject)
	if err != nil {
		return err
	}
	d, err := manager.NewDict[string, int64](ctx, m)
	if err != nil {
		return err
	}
	if err := d.Set(ctx, "k", 1); err != nil {
		return err
	}
	process.File(0).Write([]byte("ready\n"))
	var b [1]byte
	start := time.Now()
	if a.N < 0 { // during: the server holds this call until it is killed
		_, err = d.Update(ctx, "k", holdUpdate.With(-1))
	} else {
		if _, err := process.File(1).Read(b[:]); err != nil {
			return err
		}
		start = time.Now()
		_, _, err = d.Get(ctx, "k")
	}
	if !errors.Is(err, manager.ErrPeerDead) {
		return fmt.Errorf("call with the server dead: %v, want ErrPeerDead", err)
	}
	if e := time.Since(start); a.N >= 0 && e > 10*time.Second {
		return fmt.Errorf("ErrPeerDead after %v", e)
	}
	return nil
})

// authServer runs a JetStream server that lets mgrUser in by password.
func authServer(t *testing.T) *server.Server {
	o := nodeOptions("auth", t.TempDir(), 0)
	deny := &server.SubjectPermission{Deny: []string{mgrSubject, mgrSubject + ".>"}}
	o.Users = []*server.User{
		{Username: mgrUser, Password: mgrPass},
		{Username: mgrReader, Password: mgrPass, Permissions: &server.Permissions{Publish: deny}},
	}
	s := runServer(t, o)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// startManager starts the manager's server process and waits until it
// serves; stop (a cleanup too) stops it.
func startManager(t *testing.T, ctx context.Context, a mgrArgs) (p *process.Process, out *bufio.Reader, stop func()) {
	t.Helper()
	or, ow, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err = mgrServe.Start(ctx, a, process.WithFiles(ow, sr))
	ow.Close()
	sr.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { or.Close() })
	out = bufio.NewReader(or)
	addr, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("manager server: %v (exit %v)", err, p.Wait())
	}
	name := strings.TrimPrefix(strings.TrimSpace(addr), "shm:")
	// A killed server leaves its listener's name behind.
	t.Cleanup(func() { shm.Unlink(name) })
	// Serving once its liveness subject answers.
	nc, err := a.connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for {
		_, err := nc.RequestWithContext(ctx, mgrSubject+".alive", nil)
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("manager server not serving: %v", err)
		}
	}
	var once bool
	stop = func() {
		if !once {
			once = true
			sw.Close()
			if err := p.Wait(); err != nil {
				t.Errorf("manager server: %v", err)
			}
		}
	}
	t.Cleanup(func() { sw.Close() })
	return p, out, stop
}

// TestRemoteManager: a dict of a manager served on host A, used from
// hosts B and C at once: sets and gets of their own keys, atomic adds to a
// shared counter, and iteration in key order from the test.
func TestRemoteManager(t *testing.T) {
	ctx := ctxT(t)
	s := authServer(t)
	a := mgrArgs{URL: s.ClientURL(), User: mgrUser, Pass: mgrPass}
	_, _, stop := startManager(t, ctx, a)

	nc, err := a.connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bridge.RegisterManagerDialer(nc)
	m, err := bridge.DialManager(ctx, mgrSubject)
	if err != nil {
		t.Fatal(err)
	}
	d, err := manager.NewDict[string, int64](ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.GobEncode()
	if err != nil {
		t.Fatal(err)
	}
	n := shmtest.Iterations(t, 300)
	var ps []*process.Process
	for w := range 2 {
		ca := a
		ca.Dict, ca.Worker, ca.N = h, w, n
		p, err := mgrClient.Start(ctx, ca)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatalf("client host: %v", err)
		}
	}
	hits, ok, err := d.Get(ctx, "hits")
	if err != nil || !ok || hits != int64(2*n) {
		t.Fatalf("hits = %d %v %v, want %d", hits, ok, err, 2*n)
	}
	l, err := d.Len(ctx)
	if err != nil || l != 2*n+1 {
		t.Fatalf("Len = %d %v, want %d", l, err, 2*n+1)
	}
	i := 0
	for it, err := range d.Range(ctx, "w", "x") {
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("w%d-%06d", i/n, i%n)
		if it.Key != want || it.Value != int64(i%n) {
			t.Fatalf("item %d: %s=%d, want %s=%d", i, it.Key, it.Value, want, i%n)
		}
		i++
	}
	if i != 2*n {
		t.Fatalf("iterated %d items, want %d", i, 2*n)
	}
	stop()
}

// TestRemoteManagerRefused: wrong credentials are refused by the NATS
// server at connect, before any request can be made; a user whose
// account may not publish to the manager's subject gets a permissions
// violation, not a reply and not a hang.
func TestRemoteManagerRefused(t *testing.T) {
	ctx := ctxT(t)
	s := authServer(t)
	_, _, stop := startManager(t, ctx, mgrArgs{URL: s.ClientURL(), User: mgrUser, Pass: mgrPass})
	defer stop()
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(mgrReader, mgrPass))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bridge.RegisterManagerDialer(nc)
	if _, err := bridge.DialManager(ctx, mgrSubject); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("a user without publish permission: %v, want a permissions violation", err)
	}
	for _, opt := range []nats.Option{nats.UserInfo(mgrUser, "wrong"), nats.UserInfo("intruder", mgrPass), func(*nats.Options) error { return nil }} {
		nc, err := nats.Connect(s.ClientURL(), opt, nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Fatal("connected with wrong credentials")
		}
		if !errors.Is(err, nats.ErrAuthorization) || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("refused with %v, want an authorization violation", err)
		}
	}
}

// TestRemoteManagerKilled: the manager's server process SIGKILLed, once
// while a remote call is inside it, once between calls: each call returns
// an error matching manager.ErrPeerDead, promptly.
func TestRemoteManagerKilled(t *testing.T) {
	ctx := ctxT(t)
	s := authServer(t)
	a := mgrArgs{URL: s.ClientURL(), User: mgrUser, Pass: mgrPass}
	for _, during := range []bool{false, true} {
		srv, out, _ := startManager(t, ctx, a)
		ca := a
		if during {
			ca.N = -1
		}
		cr, cw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		gr, gw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c, err := mgrDeath.Start(ctx, ca, process.WithFiles(cw, gr))
		cw.Close()
		gr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(cr).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("client: %q %v (exit %v)", line, err, c.Wait())
		}
		cr.Close()
		if during {
			if line, err := out.ReadString('\n'); err != nil || line != "held\n" {
				t.Fatalf("server: %q %v", line, err)
			}
		}
		srv.Kill()
		srv.Wait()
		gw.Write([]byte{1})
		gw.Close()
		if err := c.Wait(); err != nil {
			t.Errorf("during=%v: %v", during, err)
		}
	}
}

// The NATS transport of a manager's server process (manager.Start's
// WithServer): the server process connects with the URL the test leaves
// in its environment.
func init() {
	bridge.ManagerServer("bridge-test-nats", func() (*nats.Conn, error) {
		return nats.Connect(os.Getenv("BRIDGE_TEST_NATS"), nats.UserInfo(mgrUser, mgrPass))
	})
}

// TestRemoteManagerStart: a manager's server process started by
// manager.Start serves NATS too (WithServer); a dict made through
// DialManager is used from two other hosts' processes; a value over the
// NATS server's max_payload is refused with ErrTooLarge, and the
// connection goes on.
func TestRemoteManagerStart(t *testing.T) {
	ctx := ctxT(t)
	s := authServer(t)
	a := mgrArgs{URL: s.ClientURL(), User: mgrUser, Pass: mgrPass}
	t.Setenv("BRIDGE_TEST_NATS", a.URL)
	m, err := manager.Start(ctx, manager.WithServer("bridge-test-nats", mgrSubject+".started"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	nc, err := a.connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bridge.RegisterManagerDialer(nc)
	rm, err := bridge.DialManager(ctx, mgrSubject+".started")
	if err != nil {
		t.Fatal(err)
	}
	d, err := manager.NewDict[string, int64](ctx, rm)
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.GobEncode()
	if err != nil {
		t.Fatal(err)
	}
	n := shmtest.Iterations(t, 100)
	var ps []*process.Process
	for w := range 2 {
		ca := a
		ca.Dict, ca.Worker, ca.N = h, w, n
		p, err := mgrClient.Start(ctx, ca)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatalf("client host: %v", err)
		}
	}
	if hits, _, err := d.Get(ctx, "hits"); err != nil || hits != int64(2*n) {
		t.Fatalf("hits = %d %v, want %d", hits, err, 2*n)
	}
	big := manager.NewDict[string, []byte]
	bd, err := big(ctx, rm)
	if err != nil {
		t.Fatal(err)
	}
	if err := bd.Set(ctx, "big", make([]byte, 2<<20)); !errors.Is(err, manager.ErrTooLarge) {
		t.Fatalf("a 2 MiB value: %v, want ErrTooLarge", err)
	}
	if err := bd.Set(ctx, "small", []byte("ok")); err != nil {
		t.Fatal(err)
	}
}

// backlogHeld, when not nil, is where blockUpdate says it is in; it then
// waits for backlogRelease to close (a server in this process).
var backlogHeld, backlogRelease chan struct{}

var blockUpdate = manager.RegisterUpdate("bridge-test-block", func(old []byte, ok bool, arg int64) ([]byte, error) {
	backlogHeld <- struct{}{}
	<-backlogRelease
	return old, nil
})

// heldCall serves a manager of this process on subject through snc, dials
// it through cnc, and makes a call (an Update of a dict) that the server
// holds inside the dict's lock, so that its serving goroutine is busy: its
// error goes to calls once let go. release lets it go (the first call
// does); stop lets it go and stops the server: defer it.
func heldCall(t *testing.T, ctx context.Context, snc, cnc *nats.Conn, subject string, calls chan<- error) (d *manager.Dict[string, []byte], release, stop func()) {
	t.Helper()
	m, err := manager.New()
	if err != nil {
		t.Fatal(err)
	}
	serving, quit := context.WithCancel(ctx)
	served := shmtest.Go(t, func() { bridge.ServeManager(serving, snc, subject, m) })
	backlogHeld, backlogRelease = make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	release = func() { releaseOnce.Do(func() { close(backlogRelease) }) }
	var stopOnce sync.Once
	stop = func() { stopOnce.Do(func() { release(); quit(); <-served; m.Shutdown() }) }
	bridge.RegisterManagerDialer(cnc)
	var rm *manager.Manager
	for rm == nil { // ServeManager subscribes within a round trip
		if rm, err = bridge.DialManager(ctx, subject); err != nil && !errors.Is(err, manager.ErrPeerDead) {
			stop()
			t.Fatal(err)
		}
	}
	if d, err = manager.NewDict[string, []byte](ctx, rm); err != nil {
		stop()
		t.Fatal(err)
	}
	go func() {
		_, err := d.Update(ctx, "held", blockUpdate.With(0))
		calls <- err
	}()
	<-backlogHeld // the server is inside the update, holding the dict's lock
	return d, release, stop
}

// TestRemoteManagerBacklog: requests that pile up at a ServeManager whose
// goroutines are all busy (here: held by one update function inside a
// dict's lock) are all served once it is free, however many bytes they
// make. Past the NATS client's default pending limit of a subscription
// (64 MiB) they were dropped as a slow consumer's: the server answered
// the callers' liveness probes, and the calls waited for ever.
func TestRemoteManagerBacklog(t *testing.T) {
	ctx := ctxT(t)
	// The NATS server's own limit on what it holds for a connection to
	// read (max_pending, 64 MiB by default) is as large as the client's:
	// a loaded machine whose server connection reads the 100 MB late got
	// it cut as a slow consumer, its probes unanswered, and a call
	// ErrPeerDead (seen once, in a race run of every package twice). The
	// limit under test is the client subscription's.
	o := nodeOptions("n", t.TempDir(), 0)
	o.MaxPending = 1 << 30
	s := runServer(t, o)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	snc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer snc.Close()
	cnc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	const n, size = 100, 1_000_000
	calls := make(chan error, n+1)
	d, release, stop := heldCall(t, ctx, snc, cnc, "shmkit.test.backlog", calls)
	defer stop()
	// 100 MB of requests (n of size bytes): past 64 MiB beside the 15 the
	// serving goroutines hold.
	base := snc.Stats().InBytes
	value := make([]byte, size)
	for i := range n {
		go func() { calls <- d.Set(ctx, fmt.Sprint(i), value) }()
	}
	// Every request has reached the server's connection (and so is
	// pending there, or was dropped) before the server is let go.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for snc.Stats().InBytes-base < n*size {
		select {
		case err := <-calls:
			t.Fatalf("a call returned while the server was held: %v", err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
	release()
	timeout := time.NewTimer(30 * time.Second) // served in a second or two once let go
	defer timeout.Stop()
	for i := range n + 1 {
		select {
		case err := <-calls:
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		case <-timeout.C:
			t.Fatalf("%d of %d calls still waiting 30 s after the server was let go", n+1-i, n+1)
		}
	}
}

// TestRemoteManagerCallerReconnects: a call whose connection is lost
// while it waits for its reply returns an error saying so, rather than
// wait for a reply that the server sent while the caller was away and that
// reached nobody. The server is alive and answers the call's liveness
// probes: the call waited for ever.
func TestRemoteManagerCallerReconnects(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	snc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer snc.Close()
	gate := &gatedDialer{}
	cnc, err := nats.Connect(s.ClientURL(), nats.SetCustomDialer(gate), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	call := make(chan error, 1)
	_, release, stop := heldCall(t, ctx, snc, cnc, "shmkit.test.reconnect", call)
	defer stop()
	// The caller's connection is lost, and stays away while the server
	// sends its reply.
	away := cnc.StatusChanged(nats.RECONNECTING)
	defer cnc.RemoveStatusListener(away)
	gate.cut()
	<-away
	// The reply: once the manager's connection has published it (nothing
	// else of it publishes while the caller is away), a flush makes sure
	// the NATS server has routed it, to nobody.
	sent := snc.Stats().OutMsgs
	release()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for snc.Stats().OutMsgs == sent {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if err := snc.Flush(); err != nil {
		t.Fatal(err)
	}
	gate.set(false)
	select {
	case err := <-call:
		if !errors.Is(err, nats.ErrDisconnected) {
			t.Fatalf("call whose connection was lost: %v, want an error matching nats.ErrDisconnected", err)
		}
	case <-time.After(20 * time.Second): // the fix returns within a probe period of the loss
		t.Fatal("call still waiting 20 s after its connection came back")
	}
}

// TestServeManagerConnClosed: ServeManager returns once its connection is
// closed (reconnects exhausted, or closed by its owner): no request can
// come any more. Its serving goroutines saw each Next fail at once and
// served again, for ever, spinning on the CPU.
func TestServeManagerConnClosed(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	snc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	cnc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cnc.Close)
	m, err := manager.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	const subject = "mgr.closed"
	serving, quit := context.WithCancel(ctx)
	served := make(chan error, 1)
	stopped := shmtest.Go(t, func() { served <- bridge.ServeManager(serving, snc, subject, m) })
	defer func() { quit(); <-stopped }()
	for { // serving once its liveness subject answers
		if _, err := cnc.Request(subject+".alive", nil, time.Second); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("ServeManager never served")
		}
	}
	snc.Close()
	select {
	case err := <-served:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("ServeManager = %v, want nats.ErrConnectionClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeManager still serving 10 s after its connection closed")
	}
}
