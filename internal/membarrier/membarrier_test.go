package membarrier_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// fence is what the slow side of TestFenceOrdersStoreBeforeLoad runs
// between its store and its load: made a no-op, the test fails.
var fence = membarrier.Fence

// TestFenceOrdersStoreBeforeLoad is the store-buffer litmus test with
// the fence on one side only: a goroutine stores A and loads B with no
// fence (a plain store, which amd64 lets a later load pass), another
// stores B, fences, and loads A. At least one of them must see the
// other's store; with the fence left out, both see 0 in some rounds.
func TestFenceOrdersStoreBeforeLoad(t *testing.T) {
	if !membarrier.Await() {
		if err := membarrier.Fence(); err != nil && err != membarrier.ErrUnavailable {
			t.Fatalf("Fence: %v", err)
		}
		t.Skip("membarrier's global expedited command is unavailable here")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two threads running at once")
	}
	rounds := int64(shmtest.Iterations(t, 100_000))
	var a, b atomic.Uint64
	var start, end atomic.Int64 // arrivals at each round's start and end
	var sawA, sawB atomic.Uint64
	meet := func(c *atomic.Int64, r int64) {
		c.Add(1)
		for c.Load() < 2*r {
			runtime.Gosched() // the other side may not be running
		}
	}
	var both int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the fast side
		defer wg.Done()
		for r := int64(1); r <= rounds; r++ {
			meet(&start, r)
			atomics.StoreRelease64(&a, uint64(r))
			sawB.Store(b.Load())
			meet(&end, r)
			if sawB.Load() != uint64(r) && sawA.Load() != uint64(r) {
				both++
			}
		}
	}()
	go func() { // the slow side
		defer wg.Done()
		for r := int64(1); r <= rounds; r++ {
			meet(&start, r)
			b.Store(uint64(r))
			if err := fence(); err != nil {
				t.Errorf("Fence: %v", err)
			}
			sawA.Store(a.Load())
			meet(&end, r)
		}
	}()
	wg.Wait()
	if both != 0 {
		t.Fatalf("in %d of %d rounds neither side saw the other's store", both, rounds)
	}
}
