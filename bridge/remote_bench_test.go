package bridge_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/pool"
)

// BenchmarkRemoteManager measures a Dict's Set and Get, one call at a
// time, in one run:
//
//   - local: a manager's server process (manager.Start) reached through
//     shared-memory pipes, what a host does without NATS;
//   - remote: a manager served through ServeManager on the in-process NATS
//     server, reached through DialManager: two hops over loopback TCP per
//     call (client to server, server to ServeManager) and back.
func BenchmarkRemoteManager(b *testing.B) {
	ctx := b.Context()
	s := startServer(b)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	local, err := manager.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { local.Shutdown() })

	served, err := manager.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { served.Shutdown() })
	sctx, stop := context.WithCancel(context.Background())
	b.Cleanup(stop)
	snc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(snc.Close)
	go bridge.ServeManager(sctx, snc, "bench.manager", served)
	bridge.RegisterManagerDialer(nc)
	var remote *manager.Manager
	for remote == nil { // ServeManager subscribes within a round trip
		if remote, err = bridge.DialManager(ctx, "bench.manager"); err != nil && !isPeerDead(err) {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		m    *manager.Manager
	}{{"local", local}, {"remote", remote}} {
		d, err := manager.NewDict[string, int64](ctx, c.m)
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = "key-" + strconv.Itoa(i)
		}
		b.Run(c.name+"/set", func(b *testing.B) {
			lat := benchutil.NewLatency()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				t := time.Now()
				if err := d.Set(ctx, keys[i%len(keys)], int64(i)); err != nil {
					b.Fatal(err)
				}
				lat.Record(time.Since(t))
			}
			benchutil.ReportRate(b, b.N, 8, time.Since(start))
			lat.Report(b)
		})
		b.Run(c.name+"/get", func(b *testing.B) {
			lat := benchutil.NewLatency()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				t := time.Now()
				if _, _, err := d.Get(ctx, keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				lat.Record(time.Since(t))
			}
			benchutil.ReportRate(b, b.N, 8, time.Since(start))
			lat.Report(b)
		})
	}
}

func isPeerDead(err error) bool { return err != nil && errors.Is(err, manager.ErrPeerDead) }

// BenchmarkRemoteMap measures a 10,000-task Map of a trivial function
// (tasks/s), in one run, on one pool of two worker processes:
//
//   - local: pool.Map;
//   - remote: Map through the task stream of the in-process NATS server, to
//     ServeTasks running that pool (in this process: the chunks and
//     results cross loopback TCP and JetStream's file store).
func BenchmarkRemoteMap(b *testing.B) {
	ctx := b.Context()
	s := startServer(b)
	js := connect(b, s.ClientURL())
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(poolStream)); err != nil {
		b.Fatal(err)
	}
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Terminate() })
	sctx, stop := context.WithCancel(ctx)
	b.Cleanup(stop)
	go bridge.ServeTasks(sctx, js, p, bridge.TaskOptions{Stream: poolStream})
	in := inputs(10_000)
	b.Run("local", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			if _, err := pool.Map(ctx, p, square, in); err != nil {
				b.Fatal(err)
			}
		}
		benchutil.ReportRate(b, b.N*len(in), 8, time.Since(start))
	})
	for _, chunk := range []int{64, 512} {
		b.Run("remote/chunk="+strconv.Itoa(chunk), func(b *testing.B) {
			start := time.Now()
			for range b.N {
				if _, _, err := remoteSquare.Map(ctx, js, in, bridge.TaskOptions{Stream: poolStream, Chunksize: chunk}); err != nil {
					b.Fatal(err)
				}
			}
			benchutil.ReportRate(b, b.N*len(in), 8, time.Since(start))
		})
	}
}
