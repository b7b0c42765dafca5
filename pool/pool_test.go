package pool_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

func ints(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestCallForms runs every form of call on one pool and checks the
// results, with an encoded (not raw) result type and failing tasks.
func TestCallForms(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	n := 500
	want := func(i int) (string, bool) { return strconv.Itoa(i), i%7 != 3 }

	out, err := pool.Map(ctx, p, itoa, ints(n), pool.Chunksize(13))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Errs) != n {
		t.Fatalf("Map: %v", err)
	}
	for i := range n {
		s, ok := want(i)
		if ok != (me.Errs[i] == nil) || (ok && out[i] != s) {
			t.Fatalf("Map[%d] = %q, %v", i, out[i], me.Errs[i])
		}
		if !ok && me.Errs[i].Error() != fmt.Sprintf("no %d", i) {
			t.Fatalf("Map[%d] error %q", i, me.Errs[i])
		}
	}

	i := 0
	for s, err := range pool.Imap(ctx, p, itoa, slices.Values(ints(n)), pool.Chunksize(5)) {
		w, ok := want(i)
		if ok != (err == nil) || (ok && s != w) {
			t.Fatalf("Imap #%d = %q, %v", i, s, err)
		}
		i++
	}
	if i != n {
		t.Fatalf("Imap yielded %d results", i)
	}

	seen := map[string]int{}
	fails := 0
	for s, err := range pool.ImapUnordered(ctx, p, itoa, slices.Values(ints(n)), pool.Chunksize(3)) {
		if err != nil {
			fails++
			continue
		}
		seen[s]++
	}
	for i := range n {
		if s, ok := want(i); ok && seen[s] != 1 {
			t.Fatalf("ImapUnordered: %q seen %d times", s, seen[s])
		}
	}
	if fails+len(seen) != n {
		t.Fatalf("ImapUnordered: %d results and %d failures", len(seen), fails)
	}

	args := []pair{{2, 3}, {4, 5}, {-1, 7}}
	prods, err := pool.Starmap(ctx, p, mul, args)
	if err != nil || !slices.Equal(prods, []int64{6, 20, -7}) {
		t.Fatalf("Starmap = %v, %v", prods, err)
	}

	futs := make([]*pool.Future[int64], 100)
	called := make(chan int64, len(futs))
	for i := range futs {
		futs[i] = pool.Submit(ctx, p, double, int64(i))
		futs[i].OnDone(func(v int64, err error) { called <- v })
	}
	for i, f := range futs {
		v, err := f.Get(ctx)
		if err != nil || v != 2*int64(i) || !f.Ready() || f.Err() != nil {
			t.Fatalf("Submit(%d).Get = %d, %v", i, v, err)
		}
		<-f.Done()
	}
	sum := int64(0)
	for range futs {
		sum += <-called
	}
	if sum != 99*100 {
		t.Fatalf("callbacks saw a sum of %d", sum)
	}
	if _, err := pool.Apply(ctx, p, itoa, 3); err == nil || err.Error() != "no 3" {
		t.Fatalf("Apply(3): %v", err)
	}
	var te *pool.TaskError
	if _, err := pool.Apply(ctx, p, itoa, 10); !errors.As(err, &te) || !strings.HasPrefix(te.Worker, "PoolWorker-") {
		t.Fatalf("Apply(10): %v", err)
	}
	if s, err := pool.Apply(ctx, p, itoa, 42); err != nil || s != "42" {
		t.Fatalf("Apply(42) = %q, %v", s, err)
	}

	p.Close()
	if _, err := pool.Map(ctx, p, double, []int64{1}); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Map after Close: %v", err)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPanic: a panicking task is that task's error, with its stack, and
// the worker goes on.
func TestPanic(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	for range 2 {
		out, err := pool.Map(ctx, p, boom, ints(20), pool.Chunksize(4))
		var me *pool.MapError
		if !errors.As(err, &me) || me.Failed != 1 || !errors.Is(err, pool.ErrPanicked) {
			t.Fatalf("Map: %v", err)
		}
		perr := me.Errs[5]
		if !errors.Is(perr, pool.ErrPanicked) || !strings.Contains(perr.Error(), "boom at five") || !strings.Contains(perr.Error(), "pool_test") {
			t.Fatalf("the panic's error: %v", perr)
		}
		for i, v := range out {
			if i != 5 && v != i+1 {
				t.Fatalf("out[%d] = %d", i, v)
			}
		}
	}
}

// TestMaxTasksPerChild: each worker runs exactly MaxTasksPerChild chunks,
// then a fresh one takes its place.
func TestMaxTasksPerChild(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.MaxTasksPerChild(3))
	pids, err := pool.Map(ctx, p, pidOf, ints(12), pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	byPid := map[int]int{}
	for _, pid := range pids {
		byPid[pid]++
	}
	if len(byPid) != 4 {
		t.Fatalf("12 tasks ran in %d workers, want 4: %v", len(byPid), byPid)
	}
	for pid, n := range byPid {
		if n != 3 {
			t.Fatalf("worker %d ran %d tasks, want 3", pid, n)
		}
	}
	// Two workers: none runs more than 3.
	p2 := start(t, pool.Processes(2), pool.MaxTasksPerChild(3))
	pids, err = pool.Map(ctx, p2, pidOf, ints(30), pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	clear(byPid)
	for _, pid := range pids {
		byPid[pid]++
	}
	if len(byPid) < 10 || slices.Max(slices.Collect(maps.Values(byPid))) > 3 {
		t.Fatalf("30 tasks ran as %v", byPid)
	}
	// Submitted one by one, given to workers straight from Submit: still
	// no worker runs more than 3, and every task runs.
	futs := make([]*pool.Future[int], 30)
	for i := range futs {
		futs[i] = pool.Submit(ctx, p2, pidOf, i)
	}
	clear(byPid)
	for _, f := range futs {
		pid, err := f.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byPid[pid]++
	}
	if len(byPid) < 10 || slices.Max(slices.Collect(maps.Values(byPid))) > 3 {
		t.Fatalf("30 submitted tasks ran as %v", byPid)
	}
}

// TestWorkerKilled SIGKILLs a worker while it holds a task of a Map of
// 10,000, placed by a handshake: the Map returns; the tasks that failed are
// exactly those the parent recorded as held by that worker (its chunks
// without results), each with ErrWorkerDied naming it and the signal,
// among them the task it was running, in at most MaxInFlight whole chunks;
// every other result is right, and the pool works afterwards.
//
// Only the parent's wait on the worker's exit settles what the worker
// held: a death it missed leaves the Map waiting for good, with no poll to
// end it late. So the Map's context is the check: it ends long after any
// Map that noticed the death has returned, whatever the load (the rest of
// the tasks, a fresh worker to start).
func TestWorkerKilled(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	const n, chunk, inflight = 10000, 10, 2
	var (
		mu   sync.Mutex
		held = map[int][]int{} // by the dead worker's PID
	)
	p := start(t, pool.Processes(2), pool.MaxInFlight(inflight), pool.WithDeathRecorder(func(pid int, tasks []int) {
		mu.Lock()
		held[pid] = tasks
		mu.Unlock()
	}))
	trials := shmtest.Iterations(t, 20)
	for trial := range trials {
		k := (trial*4099 + 17) % n
		in := make([]int64, n)
		for i := range in {
			in[i] = int64(i)
		}
		in[k] = -int64(trial + 1)
		type result struct {
			out []int64
			err error
		}
		done := make(chan result, 1)
		mctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
		go func() {
			out, err := pool.Map(mctx, p, hold, in, pool.Chunksize(chunk))
			done <- result{out, err}
		}()
		pid := h.held(t)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		r := <-done
		late := mctx.Err()
		cancel()
		if late != nil {
			t.Fatalf("trial %d: Map ended by its context %v after the kill (%v): the killed worker's tasks were never settled", trial, time.Since(killed), r.err)
		}
		var me *pool.MapError
		if !errors.As(r.err, &me) {
			t.Fatalf("trial %d: Map: %v", trial, r.err)
		}
		var failed []int
		for i, err := range me.Errs {
			if err == nil {
				if r.out[i] != 2*in[i] {
					t.Fatalf("trial %d: out[%d] = %d", trial, i, r.out[i])
				}
				continue
			}
			var we *pool.WorkerError
			if !errors.Is(err, pool.ErrWorkerDied) || !errors.As(err, &we) || we.Pid != pid || we.Code != -9 || !strings.Contains(err.Error(), "signal 9") {
				t.Fatalf("trial %d: task %d: %v", trial, i, err)
			}
			failed = append(failed, i)
		}
		mu.Lock()
		want := slices.Sorted(slices.Values(held[pid]))
		mu.Unlock()
		if !slices.Equal(failed, want) || me.Failed != len(failed) {
			t.Fatalf("trial %d: tasks %v failed; the parent recorded %v as held by the killed worker", trial, failed, want)
		}
		chunks := map[int]bool{}
		for _, i := range failed {
			chunks[i/chunk] = true
		}
		if !slices.Contains(failed, k) || len(chunks) > inflight {
			t.Fatalf("trial %d: the held task %d; failed: %v", trial, k, failed)
		}
	}
	out, err := pool.Map(ctx, p, double, []int64{1, 2, 3})
	if err != nil || !slices.Equal(out, []int64{2, 4, 6}) {
		t.Fatalf("after the kills: %v, %v", out, err)
	}
}

// TestWorkerKilledRetry: with WithRetries the chunks of a killed worker
// run again elsewhere and the Map succeeds.
func TestWorkerKilledRetry(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	p := start(t, pool.Processes(2), pool.WithRetries(1))
	in := make([]int64, 1000)
	for i := range in {
		in[i] = int64(i)
	}
	in[321] = -1
	done := make(chan error, 1)
	var out []int64
	go func() {
		var err error
		out, err = pool.Map(ctx, p, hold, in, pool.Chunksize(10))
		done <- err
	}()
	syscall.Kill(h.held(t), syscall.SIGKILL)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i] != 2*in[i] {
			t.Fatalf("out[%d] = %d", i, out[i])
		}
	}
}

// TestCancelMap: cancelling a Map while both workers hold a task returns at
// once, and no task that had not started runs afterwards.
func TestCancelMap(t *testing.T) {
	h := newHolder(t)
	p := start(t, pool.Processes(2), pool.MaxInFlight(1))
	in := make([]int64, 1000)
	for i := range in {
		in[i] = int64(i)
	}
	in[0], in[1] = -1, -2
	ctx, cancel := context.WithCancel(ctxFor(t))
	done := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, hold, in, pool.Chunksize(1))
		done <- err
	}()
	h.held(t)
	h.held(t)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Map: %v", err)
	}
	h.release(t, 2)
	out, err := pool.Map(ctxFor(t), p, double, []int64{5})
	if err != nil || out[0] != 10 {
		t.Fatalf("after the cancel: %v, %v", out, err)
	}
	p.Close()
	if err := p.Join(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if c := atomic.LoadInt64(h.count); c != 0 {
		t.Fatalf("%d withdrawn tasks ran", c)
	}
}

// TestTerminate: Terminate kills the workers and fails what they held.
func TestTerminate(t *testing.T) {
	h := newHolder(t)
	p := start(t, pool.Processes(1))
	f := pool.Submit(ctxFor(t), p, hold, -1)
	g := pool.Submit(ctxFor(t), p, hold, 4)
	h.held(t)
	p.Terminate()
	if _, err := f.Get(ctxFor(t)); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("held task: %v", err)
	}
	if _, err := g.Get(ctxFor(t)); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("queued task: %v", err)
	}
	if err := p.Join(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerKilledSubmits: Submits queued while the worker is busy travel
// several to a record; SIGKILLed, the worker fails exactly as many as the
// parent recorded as held by it, each naming it, and every other Submit
// succeeds on its replacement.
func TestWorkerKilledSubmits(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	var (
		mu   sync.Mutex
		held = -1
	)
	p := start(t, pool.Processes(1), pool.MaxInFlight(2), pool.WithDeathRecorder(func(pid int, tasks []int) {
		mu.Lock()
		held = len(tasks)
		mu.Unlock()
	}))
	first := pool.Submit(ctx, p, hold, -1)
	pid := h.held(t)
	futs := make([]*pool.Future[int64], 600)
	for i := range futs {
		futs[i] = pool.Submit(ctx, p, hold, int64(i))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Get(ctx); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("the held task: %v", err)
	}
	failed := 1
	for i, f := range futs {
		v, err := f.Get(ctx)
		var we *pool.WorkerError
		switch {
		case err == nil && v == 2*int64(i):
		case errors.As(err, &we) && we.Pid == pid && we.Code == -9:
			failed++
		default:
			t.Fatalf("Submit(%d) = %d, %v", i, v, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != held || failed > 1+256 {
		t.Fatalf("%d Submits failed; the parent recorded %d as held by the killed worker", failed, held)
	}
	t.Logf("%d of %d Submits were held by the killed worker", failed, len(futs)+1)
}
