package atomics_test

import (
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestStoreRelease stores into words of a shared mapping and reads them back
// with acquire loads, full-width, so that a store of the wrong size or to
// the wrong word fails.
func TestStoreRelease(t *testing.T) {
	mem := shmtest.Segment(t, 4096).Bytes()
	w64 := atomics.MustUint64At(mem, 0)
	w32 := atomics.MustUint32At(mem, 8)
	next := atomics.MustUint32At(mem, 12)
	next.Store(7)
	for _, v := range []uint64{1, 1 << 40, ^uint64(0), 0} {
		atomics.StoreRelease64(w64, v)
		if got := w64.Load(); got != v {
			t.Fatalf("StoreRelease64(%#x): Load = %#x", v, got)
		}
	}
	for _, v := range []uint32{1, 1 << 31, ^uint32(0)} {
		atomics.StoreRelease32(w32, v)
		if got := w32.Load(); got != v {
			t.Fatalf("StoreRelease32(%#x): Load = %#x", v, got)
		}
	}
	if got := next.Load(); got != 7 {
		t.Fatalf("StoreRelease32 wrote past its word: neighbour is %d", got)
	}
	var local atomic.Uint64
	atomics.StoreRelease64(&local, 42)
	if local.Load() != 42 {
		t.Fatal("StoreRelease64 on a heap word")
	}
}

// TestPause returns for every count, none and negative included.
func TestPause(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 1000} {
		atomics.Pause(n)
	}
}
