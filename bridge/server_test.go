package bridge_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// ctxT is done 2 minutes on (a loaded machine moves a hundred thousand
// messages through three processes and a server; 30 in a soak run), or
// when t ends.
func ctxT(t *testing.T) context.Context {
	d := 2 * time.Minute
	if shmtest.Soak() {
		d = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// nodeOptions are the options of a JetStream server on loopback storing in
// dir; port 0 picks a free one.
func nodeOptions(name, dir string, port int) *server.Options {
	if port == 0 {
		port = -1
	}
	return &server.Options{ServerName: name, Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
}

// runServer starts a server and waits until it takes connections.
func runServer(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		tb.Fatal("nats server not ready in 30 s")
	}
	return s
}

// startServer runs a single JetStream server in this process, on a free
// loopback port with a temporary store; cleanup shuts it down.
func startServer(tb testing.TB) *server.Server {
	tb.Helper()
	s := runServer(tb, nodeOptions("n", tb.TempDir(), 0))
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// connect connects to url and returns its JetStream context; cleanup
// closes the connection.
func connect(tb testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// makeStream makes the work-queue stream name on js.
func makeStream(tb testing.TB, ctx context.Context, js jetstream.JetStream, name string, replicas int) {
	tb.Helper()
	cfg := bridge.StreamConfig(name)
	cfg.Replicas = replicas
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
}

// freePorts returns n loopback ports free a moment ago.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func url(port int) string { return "nats://127.0.0.1:" + strconv.Itoa(port) }
