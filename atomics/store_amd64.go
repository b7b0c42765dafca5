//go:build amd64 && !race

package atomics

import (
	"sync/atomic"
	"unsafe"
)

// StoreRelease64 stores v into w with release semantics only: the stores
// before it become visible to other cores no later than v, but unlike
// w.Store (an XCHG on amd64) it does not wait for the store buffer to
// drain. Use it to publish where no later load in the same thread needs to
// be ordered after the store (a ring's tail, a lock's owner word); readers
// use w.Load (acquire). On other architectures, and under the race
// detector, it is w.Store.
//
// It is a plain Go store, so that it inlines: on amd64 (TSO) every store
// is a release at the hardware level, and the compiler keeps a function's
// stores in program order and schedules each load before the store that
// follows it (cmd/compile's SSA memory chain), so the loads and stores
// before it are done first. It used to be a call into assembly, a
// compiler barrier too, at about 2 ns a call: on the MPMC ring's paths,
// two or three calls a message, the one-message path (BenchmarkProducers
// mpmc, fast state) ran 23-25 M msgs/s against 29-38 M inlined.
//
// The atomic load after the store keeps the store: a plain store that a
// later plain store to the same word follows in the same block, with
// nothing read between, is deleted by the compiler's dead-store pass, and
// a word cleared, another set, then the first set again (a claim
// published in three steps) lost its clearing store so (see
// TestStoreReleaseNotElided). The load is of a word of its own that
// nobody writes, a hit in the core's cache whose value is unused: a load
// of w instead, from a line other cores write, cost the one-producer MPSC
// stream about 7% (BenchmarkProducers, 7 interleaved runs: 14.4 M msgs/s
// without a load, 13.5 loading w, 14.7 loading this word).
func StoreRelease64(w *atomic.Uint64, v uint64) {
	*(*uint64)(unsafe.Pointer(w)) = v
	_ = keepStores.w.Load()
}

// StoreRelease32 is StoreRelease64 for a 32-bit word.
func StoreRelease32(w *atomic.Uint32, v uint32) {
	*(*uint32)(unsafe.Pointer(w)) = v
	_ = keepStores.w.Load()
}

// keepStores is the word StoreRelease64 and StoreRelease32 load after
// their store: never written, alone on its cache line.
var keepStores struct {
	_ [64]byte
	w atomic.Uint32
	_ [60]byte
}

// Pause executes about n spin-wait hints (PAUSE on amd64): a back-off for
// spinning waiters that does not touch memory.
//
//go:noescape
func Pause(n int)
