package pool_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// TestConcurrentCalls runs Submits, Maps and Imaps from many goroutines of
// one process on one pool at once (run it with -race): every result is
// right. Submits given straight to a worker by their caller and chunks
// given by the worker's slot meet on the same ring.
func TestConcurrentCalls(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2), pool.MaxInFlight(4))
	rounds := shmtest.Iterations(t, 200)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				x := int64(g*1_000_000 + i)
				switch i % 4 {
				case 0, 1:
					if v, err := pool.Submit(ctx, p, double, x).Get(ctx); err != nil || v != 2*x {
						errs <- "Submit"
						return
					}
				case 2:
					out, err := pool.Map(ctx, p, double, []int64{x, x + 1, x + 2}, pool.Chunksize(1))
					if err != nil || out[0] != 2*x || out[2] != 2*x+4 {
						errs <- "Map"
						return
					}
				case 3:
					k := int64(0)
					for v, err := range pool.Imap(ctx, p, double, func(yield func(int64) bool) {
						for j := range int64(5) {
							if !yield(x + j) {
								return
							}
						}
					}) {
						if err != nil || v != 2*(x+k) {
							errs <- "Imap"
							return
						}
						k++
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a %s gave a wrong result", e)
	}
}

// TestSubmitsBatchedEncoded: Submits queued behind one busy worker travel
// several to a record; with an encoded result type and failing tasks among
// them, each Submit gets its own result or error.
func TestSubmitsBatchedEncoded(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.MaxInFlight(1))
	futs := make([]*pool.Future[string], 2000)
	for i := range futs {
		futs[i] = pool.Submit(ctx, p, itoa, i)
	}
	for i, f := range futs {
		s, err := f.Get(ctx)
		if i%7 == 3 {
			if err == nil || err.Error() != "no "+strconv.Itoa(i) {
				t.Fatalf("Submit(%d): %q, %v", i, s, err)
			}
			continue
		}
		if err != nil || s != strconv.Itoa(i) {
			t.Fatalf("Submit(%d): %q, %v", i, s, err)
		}
	}
	if r := pool.Records(p); r >= uint64(len(futs)) {
		t.Fatalf("%d Submits travelled in %d records: none batched", len(futs), r)
	}
}
