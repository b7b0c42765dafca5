package bridge_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
)

type nodeArgs struct {
	Name              string
	Port, ClusterPort int
	Routes, Dir       string
	Log               string // the node's log file, if any
}

// node runs one JetStream server of a cluster until it is killed; it
// tells the test through process.File(0) once it takes connections.
var node = process.Register("bridge-nats-node", func(ctx context.Context, a nodeArgs) error {
	o := nodeOptions(a.Name, a.Dir, a.Port)
	o.Cluster = server.ClusterOpts{Name: "shmkit", Host: "127.0.0.1", Port: a.ClusterPort}
	o.Routes = server.RoutesFromStr(a.Routes)
	if a.Log != "" {
		o.NoLog, o.LogFile = false, a.Log
	}
	s, err := server.NewServer(o)
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(time.Minute) {
		return fmt.Errorf("node %s not ready", a.Name)
	}
	process.File(0).Write([]byte{1})
	<-ctx.Done()
	s.Shutdown()
	return nil
})

// startCluster starts three nodes, each its own process, on loopback, and
// returns them by server name with the client URLs of all three.
func startCluster(t *testing.T, ctx context.Context) (map[string]*process.Process, string) {
	ports := freePorts(t, 6)
	var routes, urls []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
		urls = append(urls, url(ports[i]))
	}
	nodes := map[string]*process.Process{}
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("n%d", i)
		a := nodeArgs{Name: name, Port: ports[i], ClusterPort: ports[3+i], Routes: strings.Join(routes, ","), Dir: t.TempDir()}
		if f := os.Getenv("BRIDGE_NODE_LOG"); f != "" { // debugging: the nodes' logs in f.n0, f.n1, f.n2
			a.Log = f + "." + name
		}
		p, err := node.Start(ctx, a, process.WithFiles(w))
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill(); p.Wait() })
		var b [1]byte
		if _, err := r.Read(b[:]); err != nil {
			t.Fatalf("node %s: %v (%v)", name, err, p.Wait())
		}
		r.Close()
		nodes[name] = p
	}
	return nodes, strings.Join(urls, ",")
}

// TestClusterNodeKilled bridges two queues through an R3 stream on a
// three-node cluster and SIGKILLs the stream's leader mid-stream: the
// stream goes on under a new leader and every message arrives. A publish
// whose answer the dead node took is published again under its id (the
// stream drops the copy); an acknowledgement it took is lost, and that
// message is delivered again after AckWait: duplicates are allowed, and
// counted.
func TestClusterNodeKilled(t *testing.T) {
	ctx := ctxT(t)
	nodes, urls := startCluster(t, ctx)
	js := connect(t, urls, nats.MaxReconnects(-1))
	cfg := bridge.StreamConfig("C")
	cfg.Replicas = 3
	retry := time.NewTimer(0)
	for tries := 0; ; tries++ { // until the cluster has elected its meta leader
		<-retry.C
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.CreateOrUpdateStream(actx, cfg)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("stream: %v (last error)", err)
		}
		retry.Reset(100 * time.Millisecond)
	}
	src, dst := newQueue(t, 1024), newQueue(t, 1024)
	o := bridge.Options[uint64]{Stream: "C", Window: 128, Batch: 128, AckWait: 5 * time.Second}
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 2)
	shmtest.Go(t, func() { errs <- bridge.Send(bctx, js, src, o) })
	shmtest.Go(t, func() { errs <- bridge.Receive(bctx, js, dst, o) })
	n := shmtest.Iterations(t, 20_000)
	shmtest.Go(t, func() {
		for i := range uint64(n) {
			if err := src.Put(ctx, i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	seen := make([]int, n)
	unique, total := 0, 0
	killed := ""
	for unique < n {
		v, err := dst.Get(ctx)
		if err != nil {
			t.Fatalf("Get after %d of %d: %v; local queues %d and %d; %s", unique, n, err, src.Len(), dst.Len(), streamState(js, "C"))
		}
		if v >= uint64(n) {
			t.Fatalf("value %d out of range", v)
		}
		total++
		if seen[v]++; seen[v] == 1 {
			unique++
		}
		if unique == n/3 && killed == "" {
			str, err := js.Stream(ctx, "C")
			if err != nil {
				t.Fatal(err)
			}
			info, err := str.Info(ctx)
			if err != nil || info.Cluster == nil {
				t.Fatalf("stream info: %v", err)
			}
			killed = info.Cluster.Leader
			nodes[killed].Kill()
			nodes[killed].Wait()
		}
	}
	stop()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("bridge: %v", err)
		}
	}
	t.Logf("stream leader %s killed after %d messages; %d got, %d duplicates", killed, n/3, total, total-n)
}
