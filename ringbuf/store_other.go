//go:build !amd64 || race

package ringbuf

import "sync/atomic"

// storeRelease is atomic.Uint64.Store where a plain store is not known to
// be a release (other architectures), or where the race detector must see
// the publication.
func (w *pubWord) storeRelease(v uint64) { (*atomic.Uint64)(w).Store(v) }

// pubWord is an atomic.Uint64 that also takes release-only stores.
type pubWord atomic.Uint64

// storeRel32 is storeRelease for a 32-bit word.
func storeRel32(w *atomic.Uint32, v uint32) { w.Store(v) }
