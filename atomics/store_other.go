//go:build !amd64 || race

package atomics

import "sync/atomic"

// StoreRelease64 stores v into w with release semantics. Here it is
// w.Store: a plain store is not known to be a release on every other
// architecture, and the race detector must see the publication.
func StoreRelease64(w *atomic.Uint64, v uint64) { w.Store(v) }

// StoreRelease32 is StoreRelease64 for a 32-bit word.
func StoreRelease32(w *atomic.Uint32, v uint32) { w.Store(v) }

var pauseSink atomic.Uint32

// Pause spins about n rounds without writing shared memory.
func Pause(n int) {
	for i := 0; i < n; i++ {
		pauseSink.Load()
	}
}
