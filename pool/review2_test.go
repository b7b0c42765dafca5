package pool_test

import (
	"slices"

	"errors"
	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/shm"
	"sync"
	"testing"

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
