package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/pool"
)

// cube is the pool function the hosts run for each other.
var cube = bridge.Remote(pool.Register("bridge-demo-cube", func(ctx context.Context, x int64) (int64, error) {
	return x * x * x, nil
}))

// poolWorker adds this host's workers to the pool of stream until
// interrupted.
func poolWorker(ctx context.Context, js jetstream.JetStream, stream string, procs int) error {
	p, err := pool.Start(ctx, pool.Processes(procs))
	if err != nil {
		return err
	}
	defer p.Terminate()
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(stream)); err != nil {
		return err
	}
	fmt.Println("serving tasks; Ctrl-C ends")
	return bridge.ServeTasks(ctx, js, p, bridge.TaskOptions{Stream: stream})
}

// poolMap maps cube over 0..n-1 on every host's workers, this host's
// included, and checks the sum.
func poolMap(ctx context.Context, js jetstream.JetStream, stream string, procs int, n uint64) error {
	p, err := pool.Start(ctx, pool.Processes(procs))
	if err != nil {
		return err
	}
	defer p.Terminate()
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(stream)); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go bridge.ServeTasks(sctx, js, p, bridge.TaskOptions{Stream: stream})
	in := make([]int64, n)
	var want int64
	for i := range in {
		in[i] = int64(i)
		want += int64(i) * int64(i) * int64(i)
	}
	start := time.Now()
	out, st, err := cube.Map(ctx, js, in, bridge.TaskOptions{Stream: stream})
	if err != nil {
		return err
	}
	var sum int64
	for _, v := range out {
		sum += v
	}
	fmt.Printf("%d tasks in %v, sum %d (want %d); chunks per host %v, %d run again\n",
		n, time.Since(start).Round(time.Millisecond), sum, want, st.Hosts, st.Rerun)
	if sum != want {
		return fmt.Errorf("sum of the cubes %d, want %d: results lost or wrong", sum, want)
	}
	return nil
}

// managerServe serves a manager on subject until interrupted, and hands
// its shared dict's handle to whoever asks on subject+".handle".
func managerServe(ctx context.Context, nc *nats.Conn, subject string) error {
	m, err := manager.New()
	if err != nil {
		return err
	}
	defer m.Shutdown()
	served := make(chan error, 1)
	go func() { served <- bridge.ServeManager(ctx, nc, subject, m) }()
	bridge.RegisterManagerDialer(nc)
	var rm *manager.Manager
	for rm == nil { // ServeManager's subscription is up within a round trip
		if rm, err = bridge.DialManager(ctx, subject); err != nil && !errors.Is(err, manager.ErrPeerDead) {
			return err
		}
	}
	d, err := manager.NewDict[string, int64](ctx, rm)
	if err != nil {
		return err
	}
	h, err := d.GobEncode()
	if err != nil {
		return err
	}
	sub, err := nc.Subscribe(subject+".handle", func(msg *nats.Msg) { msg.Respond(h) })
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	fmt.Println("serving the manager on", subject, "; Ctrl-C ends")
	return <-served
}

// managerAdd adds 1 to the shared dict's "hits" n times, from this host.
func managerAdd(ctx context.Context, nc *nats.Conn, subject string, n uint64) error {
	bridge.RegisterManagerDialer(nc)
	msg, err := nc.RequestWithContext(ctx, subject+".handle", nil)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("no manager-serve answers on subject %s (start one, or give its -subject): %w", subject, err)
	}
	if err != nil {
		return err
	}
	d := new(manager.Dict[string, int64])
	if err := d.GobDecode(msg.Data); err != nil {
		return err
	}
	start := time.Now()
	var v int64
	for range n {
		if v, err = d.Add(ctx, "hits", 1); err != nil {
			return err
		}
	}
	fmt.Printf("%d adds in %v; hits is now %d\n", n, time.Since(start).Round(time.Millisecond), v)
	return nil
}
