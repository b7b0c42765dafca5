package bridge_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/pool"
)

// exampleServer runs a JetStream server in this process for an example (a
// real deployment runs nats-server) and connects to it.
func exampleServer() (nc *nats.Conn, js jetstream.JetStream, stop func(), err error) {
	dir, err := os.MkdirTemp("", "jetstream")
	if err != nil {
		return nil, nil, nil, err
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	go srv.Start()
	down := func() { srv.Shutdown(); srv.WaitForShutdown(); os.RemoveAll(dir) }
	if !srv.ReadyForConnections(10 * time.Second) {
		down()
		return nil, nil, nil, fmt.Errorf("server not ready")
	}
	if nc, err = nats.Connect(srv.ClientURL()); err != nil {
		down()
		return nil, nil, nil, err
	}
	js, _ = jetstream.New(nc)
	return nc, js, func() { nc.Close(); down() }, nil
}

var triple = bridge.Remote(pool.Register("example-triple", func(ctx context.Context, x int) (int, error) {
	return 3 * x, nil
}))

// A Map whose chunks any host serving the stream runs: here one host, this
// process's pool (another host runs the same binary's ServeTasks).
func ExampleRemoteFunc_Map() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, js, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig("WORK")); err != nil {
		fmt.Println(err)
		return
	}
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Terminate()
	serving, quit := context.WithCancel(ctx)
	defer quit()
	go bridge.ServeTasks(serving, js, p, bridge.TaskOptions{Stream: "WORK"})

	out, st, err := triple.Map(ctx, js, []int{1, 2, 3, 4, 5}, bridge.TaskOptions{Stream: "WORK", Chunksize: 2})
	fmt.Println(out, st.Chunks, err)
	// Output: [3 6 9 12 15] 3 <nil>
}

// A manager's dict served through NATS and used through DialManager, as a
// process on another host would (here, this one).
func ExampleServeManager() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, _, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	m, err := manager.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Shutdown()
	serving, quit := context.WithCancel(ctx)
	defer quit()
	go bridge.ServeManager(serving, nc, "example.manager", m)

	// The other host.
	bridge.RegisterManagerDialer(nc)
	var remote *manager.Manager
	for remote == nil { // ServeManager subscribes within a round trip
		if remote, err = bridge.DialManager(ctx, "example.manager"); err != nil && !isPeerDead(err) {
			fmt.Println(err)
			return
		}
	}
	d, err := manager.NewDict[string, int](ctx, remote)
	if err != nil {
		fmt.Println(err)
		return
	}
	d.Set(ctx, "a", 1)
	n, err := d.Add(ctx, "a", 41)
	fmt.Println(n, err)
	// Output: 42 <nil>
}
