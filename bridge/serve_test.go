package bridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// slowChunk is the one task of a chunk that runs for Run.
type slowChunk struct {
	Runs  string // the file each run of the task appends Chunk to
	Chunk int64
	Run   time.Duration
}

// slow records each of its runs in a.Runs as it starts, then works for
// a.Run: the workload, not a synchronisation.
var slow = bridge.Remote(pool.Register("bridge-slow", func(ctx context.Context, a slowChunk) (int64, error) {
	f, err := os.OpenFile(a.Runs, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	_, err = fmt.Fprintf(f, "%d\n", a.Chunk)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	t := time.NewTimer(a.Run)
	defer t.Stop()
	select {
	case <-t.C:
		return a.Chunk, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}))

// taskStreamPool starts a server with the task stream called stream and a
// pool of one worker process, both ended with the test.
func taskStreamPool(t *testing.T, ctx context.Context, stream string) (jetstream.JetStream, *pool.Pool) {
	t.Helper()
	s := startServer(t)
	js := connect(t, s.ClientURL())
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(stream)); err != nil {
		t.Fatal(err)
	}
	p, err := pool.Start(ctx, pool.Processes(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate() })
	return js, p
}

// TestServeTasksNoPullAhead: a host that runs one chunk at a time, each in
// a bit more than half of AckWait, runs each chunk of a Map once. Its
// ServeTasks pulled chunks ahead of the one it ran (one in the iterator,
// one waiting for a slot), unacknowledged and not told in progress: a
// chunk that waited for the one before it passed AckWait before it was
// done, though it ran in less, and JetStream delivered it again (to this
// host, on a cluster of hosts to any): the chunk ran twice and Map counted
// a duplicate.
func TestServeTasksNoPullAhead(t *testing.T) {
	ctx := ctxT(t)
	js, p := taskStreamPool(t, ctx, "NP")
	// The worker is up before the first chunk: its start takes no part of
	// the chunk's AckWait.
	if _, err := pool.Map(ctx, p, square, []int64{1}); err != nil {
		t.Fatal(err)
	}
	// Each chunk runs 0.6 of AckWait: two back to back pass it by a fifth
	// of it (more on a loaded machine, which only delays the second), and
	// one alone leaves 1.2 s to a loaded machine to take it, hand it to the
	// worker and acknowledge it.
	const ackWait = 3 * time.Second
	const run = ackWait * 6 / 10
	o := bridge.TaskOptions{Stream: "NP", AckWait: ackWait, Concurrency: 1, Chunksize: 1}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	stopped := shmtest.Go(t, func() { served <- bridge.ServeTasks(sctx, js, p, o) })
	defer func() { stop(); <-stopped }()

	runs := filepath.Join(t.TempDir(), "runs")
	const chunks = 4
	in := make([]slowChunk, chunks)
	for i := range in {
		in[i] = slowChunk{Runs: runs, Chunk: int64(i), Run: run}
	}
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second) // 4 runs of 1.8 s, one at a time
	defer cancel()
	out, st, err := slow.Map(mctx, js, in, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != int64(i) {
			t.Fatalf("result %d = %d, want %d", i, v, i)
		}
	}
	t.Logf("%+v", st)

	// Every chunk acknowledged: no copy delivered again is still to run.
	cons, err := js.Consumer(ctx, "NP", "shmkit-pool")
	if err != nil {
		t.Fatal(err)
	}
	settled := time.Now().Add(10 * ackWait)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		if time.Now().After(settled) {
			t.Fatalf("chunks still unacknowledged %v after Map: %+v", 10*ackWait, info)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("ServeTasks stopped by its context = %v, want nil", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	count := make(map[int64]int)
	for _, line := range strings.Fields(string(b)) {
		c, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			t.Fatalf("runs file %q: %v", b, err)
		}
		count[c]++
	}
	for c := range int64(chunks) {
		if count[c] != 1 {
			t.Errorf("chunk %d ran %d times, want once (runs %v; deliveries %d, redelivered %d)",
				c, count[c], count, info.Delivered.Consumer, info.NumRedelivered)
		}
	}
	if st.Duplicates != 0 || st.Rerun != 0 {
		t.Errorf("stats %+v: want no duplicate and no chunk run again", st)
	}
	if info.Delivered.Consumer != chunks {
		t.Errorf("the consumer made %d deliveries of %d chunks, want one each", info.Delivered.Consumer, chunks)
	}
}

// TestServeTasksConsumerDeletedBetweenPulls: a consumer deleted while
// no pull of ServeTasks waits (its one slot busy with a chunk) ends
// ServeTasks with an error, as one deleted under a waiting pull does. The
// next pull got "no responders", which ServeTasks took for a passing
// fault: it pulled again once a second for ever, serving nothing and
// saying nothing.
func TestServeTasksConsumerDeletedBetweenPulls(t *testing.T) {
	ctx := ctxT(t)
	js, p := taskStreamPool(t, ctx, "CD")
	inTask, release := make(chan struct{}, 1), make(chan struct{})
	bridge.SetHook(func(point string) {
		if point == "task" {
			inTask <- struct{}{}
			<-release
		}
	})
	defer bridge.SetHook(nil)
	o := bridge.TaskOptions{Stream: "CD", AckWait: 30 * time.Second, Concurrency: 1, Chunksize: 1}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	stopped := shmtest.Go(t, func() { served <- bridge.ServeTasks(sctx, js, p, o) })
	defer func() { stop(); <-stopped }()
	mctx, cancelMap := context.WithTimeout(ctx, 20*time.Second)
	defer cancelMap()
	mapped := shmtest.Go(t, func() {
		slow.Map(mctx, js, []slowChunk{{Runs: filepath.Join(t.TempDir(), "runs")}}, o)
	})
	defer func() { cancelMap(); <-mapped }()
	<-inTask // the one slot runs a chunk: no pull waits
	if err := js.DeleteConsumer(ctx, "CD", "shmkit-pool"); err != nil {
		t.Fatal(err)
	}
	close(release)
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("ServeTasks after its consumer was deleted = nil, want an error")
		}
		t.Logf("ServeTasks = %v", err)
	case <-time.After(shmtest.Timeout(t, 15*time.Second)):
		t.Fatal("ServeTasks still runs 15 s after its consumer was deleted")
	}
}
