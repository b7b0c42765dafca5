package pool_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// exit3 exits its worker with status 3 on a negative input.
var exit3 = pool.Register("pool_test.exit3", func(ctx context.Context, x int64) (int64, error) {
	if x < 0 {
		os.Exit(3)
	}
	return 2 * x, nil
})

// TestWorkerExits: a task that calls os.Exit(3) fails with a
// *WorkerError that names exit status 3, from Submit and from Map; the
// pool replaces the worker and goes on.
func TestWorkerExits(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	_, err := pool.Apply(ctx, p, exit3, -1)
	var we *pool.WorkerError
	if !errors.As(err, &we) || we.Code != 3 || !strings.Contains(err.Error(), "status 3") || !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("Apply: %v", err)
	}
	in := []int64{1, 2, -3, 4, 5, 6}
	out, err := pool.Map(ctx, p, exit3, in, pool.Chunksize(1))
	var me *pool.MapError
	if !errors.As(err, &me) || !errors.As(me.Errs[2], &we) || we.Code != 3 {
		t.Fatalf("Map: %v", err)
	}
	for i, e := range me.Errs {
		if i != 2 && e == nil && out[i] != 2*in[i] {
			t.Fatalf("out[%d] = %d", i, out[i])
		}
	}
	if v, err := pool.Apply(ctx, p, exit3, 21); err != nil || v != 42 {
		t.Fatalf("after the exits: %d, %v", v, err)
	}
}

// TestCloseJoinOrder: Join waits for the calls under way when Close came
// first; a second Close and Terminate after Join are harmless; Terminate
// then Join returns.
func TestCloseJoinOrder(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	futs := make([]*pool.Future[int64], 50)
	for i := range futs {
		futs[i] = pool.Submit(ctx, p, double, int64(i))
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range futs {
		if !f.Ready() {
			t.Fatalf("Submit %d not finished after Join", i)
		}
		if v, err := f.Get(ctx); err != nil || v != 2*int64(i) {
			t.Fatalf("Submit %d: %d, %v", i, v, err)
		}
	}
	p.Close()
	p.Terminate()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Submit(ctx, p, double, 1).Get(ctx); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Submit after Terminate: %v", err)
	}
	q := start(t, pool.Processes(1))
	q.Terminate()
	if err := q.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCancelSubmit: a Submit whose context is cancelled while its task
// waits behind a busy worker fails with the context's error at once, and
// its task never runs.
func TestCancelSubmit(t *testing.T) {
	h := newHolder(t)
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.MaxInFlight(1))
	first := pool.Submit(ctx, p, hold, -1)
	h.held(t)
	cctx, cancel := context.WithCancel(ctx)
	futs := make([]*pool.Future[int64], 20)
	for i := range futs {
		futs[i] = pool.Submit(cctx, p, hold, int64(i))
	}
	cancel()
	for i, f := range futs {
		if _, err := f.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	h.release(t, 1)
	if v, err := first.Get(ctx); err != nil || v != -2 {
		t.Fatalf("held task: %d, %v", v, err)
	}
	if v, err := pool.Apply(ctx, p, hold, 7); err != nil || v != 14 {
		t.Fatalf("after the cancel: %d, %v", v, err)
	}
	if c := atomic.LoadInt64(h.count); c != 1 {
		t.Fatalf("%d tasks ran, want 1 (the withdrawn ones must not)", c)
	}
}

// badInit fails when the environment says so.
var badInit = pool.RegisterInitializer("pool_test.bad_init", func(ctx context.Context) error {
	if os.Getenv("POOL_TEST_BAD_INIT") != "" {
		return errors.New("no init today")
	}
	return nil
})

// TestInitializerFails: Start fails, saying why, when the workers'
// initializer fails; with it succeeding, the pool runs.
func TestInitializerFails(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv("POOL_TEST_BAD_INIT", "1")
	if p, err := pool.Start(ctx, pool.Processes(2), pool.WithInitializer(badInit)); err == nil || !strings.Contains(err.Error(), "no init today") {
		if p != nil {
			p.Terminate()
		}
		t.Fatalf("Start with a failing initializer: %v", err)
	}
	t.Setenv("POOL_TEST_BAD_INIT", "")
	p := start(t, pool.Processes(2), pool.WithInitializer(badInit))
	if v, err := pool.Apply(ctx, p, double, 4); err != nil || v != 8 {
		t.Fatalf("Apply: %d, %v", v, err)
	}
}

// TestCorruptResultsRing: a worker whose results ring turns corrupt (its
// tail off the record alignment) is not trusted further: the parent kills
// it and settles it, and the next task runs on a fresh worker. Before,
// the reader stopped at the corrupt ring and left the worker running, so
// the task given to it next never got its result.
func TestCorruptResultsRing(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1))
	gone, err := pool.CorruptResults(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(shmtest.Timeout(t, 10*time.Second)):
		t.Fatal("the worker whose results ring is corrupt was not stopped")
	}
	if v, err := pool.Apply(ctx, p, double, 21); err != nil || v != 42 {
		t.Fatalf("after the corrupt ring: %d, %v", v, err)
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptTasksRing: a worker whose tasks ring turns corrupt (the head
// it publishes past the tail, off the record alignment) is not trusted
// further: the task whose write finds the ring corrupt fails with
// ErrWorkerDied, and the next runs on a fresh worker. The parent reads the
// head only when its cached room runs out, so the test corrupts it before
// each task until a write has read it. Before, the write's error was taken
// for the worker's death and dropped, and the task waited for ever on a
// worker that lived on, idle.
func TestCorruptTasksRing(t *testing.T) {
	ctx := ctxFor(t)
	const buffer = 4096
	p := start(t, pool.Processes(1), pool.WithBufferSize(buffer))
	for i := 0; ; i++ {
		if i > buffer/8 { // each record takes at least 8 bytes of the ring
			t.Fatalf("%d tasks ran on a corrupt tasks ring", i)
		}
		if err := pool.CorruptTasksHead(p, 0); err != nil {
			t.Fatal(err)
		}
		actx, cancel := context.WithTimeout(ctx, shmtest.Timeout(t, 10*time.Second))
		v, err := pool.Apply(actx, p, double, int64(i))
		cancel()
		if errors.Is(err, pool.ErrWorkerDied) {
			break // the write read the corrupt head
		}
		if err != nil || v != 2*int64(i) {
			t.Fatalf("task %d on a corrupt tasks ring: %d, %v", i, v, err)
		}
	}
	if v, err := pool.Apply(ctx, p, double, 21); err != nil || v != 42 {
		t.Fatalf("after the corrupt ring: %d, %v", v, err)
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetiredWorkerHoldsNoChunk: with MaxTasksPerChild 1, both workers
// hold their one task, so both retire; a task submitted then goes to the
// first of them to exit (here the one the test kills), not to a slot
// that waits for its own worker's task to end. Before, a slot whose
// worker was retiring took the next chunk and waited with it until that
// worker exited, while the other slot's fresh worker stood idle.
func TestRetiredWorkerHoldsNoChunk(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	p := start(t, pool.Processes(2), pool.MaxTasksPerChild(1), pool.MaxInFlight(1))
	within := shmtest.Timeout(t, 10*time.Second)
	held := func() int { // h.held, failing rather than hanging
		t.Helper()
		got := make(chan string, 1)
		go func() {
			line, _ := h.pids.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("holding task reported %q", line)
			}
			return pid
		case <-time.After(within):
			t.Fatal("a holding task given to a free worker never started")
			return 0
		}
	}
	first := pool.Submit(ctx, p, hold, -1)
	held()
	second := pool.Submit(ctx, p, hold, -2)
	pid := held()
	short, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	f := pool.Submit(short, p, double, 21)
	syscall.Kill(pid, syscall.SIGKILL)
	if _, err := second.Get(ctx); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("the killed worker's task: %v", err)
	}
	if v, err := f.Get(short); err != nil || v != 42 {
		t.Fatalf("a task submitted while both workers retired, one then killed: %d, %v", v, err)
	}
	h.release(t, 1)
	if v, err := first.Get(ctx); err != nil || v != -2 {
		t.Fatalf("the held task: %d, %v", v, err)
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}
