package pool_test

import (
	"context"
	"runtime"
	"slices"

	"errors"
	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/fdexport"
	"github.com/shmkit/shmkit/shm"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// TestCloseWhileSubmitting: Submits from several goroutines race Close;
// every Submit the pool accepted (its Future does not fail with ErrClosed)
// completes with its result, none fails with a *WorkerError from a worker
// that was told to finish, and Join returns.
func TestCloseWhileSubmitting(t *testing.T) {
	ctx := ctxFor(t)
	for trial := range shmtest.Iterations(t, 30) {
		p := start(t, pool.Processes(2), pool.MaxInFlight(2))
		var (
			wg      sync.WaitGroup
			started = make(chan struct{}, 4)
			errs    = make(chan error, 4)
		)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var futs []*pool.Future[int64]
				for i := 0; ; i++ {
					if i == 20 {
						started <- struct{}{}
					}
					f := pool.Submit(ctx, p, double, int64(g*1_000_000+i))
					if errors.Is(f.Err(), pool.ErrClosed) {
						break
					}
					futs = append(futs, f)
				}
				for _, f := range futs {
					v, err := f.Get(ctx)
					if errors.Is(err, pool.ErrClosed) {
						continue // failed at once by Submit: not accepted
					}
					if err != nil {
						errs <- err
						return
					}
					_ = v
				}
			}()
		}
		for range 4 {
			<-started
		}
		p.Close()
		wg.Wait()
		if err := p.Join(ctx); err != nil {
			t.Fatal(err)
		}
		close(errs)
		for err := range errs {
			t.Fatalf("trial %d: a Submit accepted before Close: %v", trial, err)
		}
	}
}

// TestMapSharedRecreatedName: a named segment closed, unlinked and made
// again under the same name is a new segment: MapShared over arrays in the
// new one writes its results there, not into the old one a worker still
// has mapped from the previous call.
func TestMapSharedRecreatedName(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1))
	name := shmtest.Name(t)
	for round := range 2 {
		seg, err := shm.Create(name, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		in, err := array.CreateRawFrom(seg, "in", []int64{1, 2, 3, int64(round)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := array.CreateRaw[int64](seg, "out", 4)
		if err != nil {
			t.Fatal(err)
		}
		err = pool.MapShared(ctx, p, double, in, out)
		got := slices.Clone(out.Slice())
		seg.Unlink()
		seg.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if want := []int64{2, 4, 6, 2 * int64(round)}; !slices.Equal(got, want) {
			t.Fatalf("round %d: out = %v, want %v", round, got, want)
		}
	}
}

// TestImapBreakNoLeak: breaking out of Imap and ImapUnordered over an
// endless input, many times, leaves no goroutine behind (the input's pull
// and the call's chunks are released), and the pool works afterwards.
func TestImapBreakNoLeak(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2), pool.MaxInFlight(2))
	endless := func(yield func(int64) bool) {
		for i := int64(0); yield(i); i++ {
		}
	}
	run := func(ordered bool) {
		it := pool.ImapUnordered(ctx, p, double, endless, pool.Chunksize(3))
		if ordered {
			it = pool.Imap(ctx, p, double, endless, pool.Chunksize(3))
		}
		k := 0
		for v, err := range it {
			if err != nil || (ordered && v != 2*int64(k)) {
				t.Fatalf("result %d: %d, %v", k, v, err)
			}
			if k++; k == 7 {
				break
			}
		}
	}
	run(true)
	run(false)
	before := runtime.NumGoroutine()
	for i := range shmtest.Iterations(t, 200) {
		run(i%2 == 0)
	}
	// Chunks still in flight when the loop broke finish on the pool's
	// goroutines; a call after them through every worker settles them.
	out, err := pool.Map(ctx, p, double, make([]int64, 64), pool.Chunksize(1))
	if err != nil || len(out) != 64 {
		t.Fatal(err)
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Fatalf("%d goroutines before, %d after the broken loops", before, after)
	}
}

// TestGetCancelRacesResult: Get's ctx, and Submit's, cancelled while the
// result arrives: each Get returns the task's result or the ctx's error,
// and a Get after that with a live ctx returns the result or, for a
// cancelled Submit, its ctx's error; never a zero result without an error
// (a Submit cancelled as its result came used to report success with a
// zero value: the result was dropped, then the chunk completed).
func TestGetCancelRacesResult(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2), pool.MaxInFlight(2))
	for i := range int64(shmtest.Iterations(t, 300)) {
		sctx, scancel := context.WithCancel(ctx)
		gctx, gcancel := context.WithCancel(ctx)
		x := i + 1
		f := pool.Submit(sctx, p, double, x)
		go gcancel()
		if i%2 == 0 {
			go scancel()
		}
		v, err := f.Get(gctx)
		if !(err == nil && v == 2*x) && !errors.Is(err, context.Canceled) {
			t.Fatalf("Get(%d) = %d, %v", x, v, err)
		}
		v, err = f.Get(ctx)
		if !(err == nil && v == 2*x) && !(i%2 == 0 && errors.Is(err, context.Canceled) && v == 0) {
			t.Fatalf("second Get(%d) = %d, %v", x, v, err)
		}
		scancel()
	}
}

// TestCloseRacesDirectSubmit: Close lands while a Submit, having taken a
// worker's token, is about to write its chunk to the worker itself, and
// the worker's slot closes the worker's tasks ring first (the worker
// busy with a held task meanwhile): the Submit fails with ErrClosed at
// once, or completes; it is not left to fail with ErrWorkerDied when the
// worker exits as told.
func TestCloseRacesDirectSubmit(t *testing.T) {
	ctx := ctxFor(t)
	h := newHolder(t)
	var (
		p      *pool.Pool
		armed  atomic.Bool
		closed = make(chan struct{}, 1)
	)
	p = start(t, pool.Processes(1), pool.MaxInFlight(3), pool.WithDirectHooks(func() {
		if armed.CompareAndSwap(true, false) {
			p.Close()
			<-closed
		}
	}, func() { closed <- struct{}{} }))
	first := pool.Submit(ctx, p, hold, -1)
	h.held(t)
	armed.Store(true)
	f := pool.Submit(ctx, p, double, 21)
	if armed.Load() {
		t.Fatal("the Submit was not given to the worker directly")
	}
	h.release(t, 1)
	if v, err := first.Get(ctx); err != nil || v != -2 {
		t.Fatalf("the held task: %d, %v", v, err)
	}
	if v, err := f.Get(ctx); !errors.Is(err, pool.ErrClosed) && !(err == nil && v == 42) {
		t.Fatalf("a Submit racing Close: %d, %v", v, err)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTerminateRacesMap: Terminate while a Map of many chunks runs, both
// workers holding a task: the Map returns, each task with its right
// result or ErrClosed, among them the held ones, and Join returns.
func TestTerminateRacesMap(t *testing.T) {
	ctx := ctxFor(t)
	for trial := range shmtest.Iterations(t, 5) {
		h := newHolder(t)
		p := start(t, pool.Processes(2), pool.MaxInFlight(1)) // a held task on each
		in := make([]int64, 2000)
		for i := range in {
			in[i] = int64(i)
		}
		in[0], in[1] = -1, -2
		type result struct {
			out []int64
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := pool.Map(ctx, p, hold, in, pool.Chunksize(1))
			done <- result{out, err}
		}()
		h.held(t)
		h.held(t)
		p.Terminate()
		r := <-done
		var me *pool.MapError
		if !errors.As(r.err, &me) || me.Errs[0] == nil || me.Errs[1] == nil {
			t.Fatalf("trial %d: Map: %v", trial, r.err)
		}
		for i, err := range me.Errs {
			if (err == nil && r.out[i] != 2*in[i]) || (err != nil && !errors.Is(err, pool.ErrClosed)) {
				t.Fatalf("trial %d: task %d: %d, %v", trial, i, r.out[i], err)
			}
		}
		if err := p.Join(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMapSharedReusedDescriptor: a handle to an anonymous segment made for
// the workers names this process's descriptor; once the segment is closed
// and the number reused by another segment, opening the handle through
// /proc fails with ErrNotExist (the inode differs) instead of mapping the
// other segment.
func TestMapSharedReusedDescriptor(t *testing.T) {
	a, err := shm.CreateAnon(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	var h shm.Handle
	if err := fdexport.RunInPlace(func() (err error) { h, err = a.Handle(); return err }); err != nil {
		t.Fatal(err)
	}
	if s, err := shm.Attach(h); err != nil {
		t.Fatalf("the handle while the segment is open: %v", err)
	} else {
		s.Close()
	}
	a.Close()
	b, err := shm.CreateAnon(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if int(b.File().Fd()) != h.FD {
		t.Skipf("descriptor %d not reused (the new segment has %d)", h.FD, b.File().Fd())
	}
	if s, err := shm.Attach(h); !errors.Is(err, shm.ErrNotExist) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("the handle after its descriptor was reused: %v", err)
	}
}

// TestTerminateRacesRetry: a worker dies holding a task that may run again
// (WithRetries), and Terminate lands between the monitor's look at the
// pool and its queueing the task again: the task fails with ErrClosed and
// the Map returns. Before, the task went into a queue that Terminate had
// already emptied and that no slot takes from any more, and the Map
// waited for it for ever.
func TestTerminateRacesRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(ctxFor(t), shmtest.Timeout(t, 10*time.Second))
	defer cancel()
	h := newHolder(t)
	var (
		p     *pool.Pool
		armed atomic.Bool
	)
	p = start(t, pool.Processes(1), pool.MaxInFlight(1), pool.WithRetries(1), pool.WithRequeueHook(func() {
		if armed.CompareAndSwap(true, false) {
			go p.Terminate()
			<-pool.Stopped(p)
		}
	}))
	done := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, hold, []int64{-1, 1, 2}, pool.Chunksize(1))
		done <- err
	}()
	pid := h.held(t)
	armed.Store(true)
	syscall.Kill(pid, syscall.SIGKILL)
	err := <-done
	var me *pool.MapError
	if !errors.As(err, &me) || !errors.Is(me.Errs[0], pool.ErrClosed) {
		t.Fatalf("Map with its held task's retry racing Terminate: %v", err)
	}
	if armed.Load() {
		t.Fatal("the held task was not queued again")
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}
