//go:build amd64 && !race

package ringbuf

import (
	"sync/atomic"
	"unsafe"
)

// storeRelease stores v into w with release semantics only: the stores
// before it become visible to other cores no later than v. It publishes an
// SPSC tail without the full barrier (XCHG) of atomic.Uint64.Store, which
// costs more than the rest of a small record's commit. Readers use
// w.Load (acquire on amd64). Implemented in store_amd64.s.
func (w *pubWord) storeRelease(v uint64) { storeRelease((*uint64)(w.p()), v) }

//go:noescape
func storeRelease(addr *uint64, v uint64)

//go:noescape
func storeRelease32(addr *uint32, v uint32)

// storeRelease32 is storeRelease for a 32-bit word.
func storeRel32(w *atomic.Uint32, v uint32) { storeRelease32((*uint32)(unsafe.Pointer(w)), v) }

// pubWord is an atomic.Uint64 that also takes release-only stores.
type pubWord atomic.Uint64
