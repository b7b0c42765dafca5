package ringbuf

import (
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
)

// pubWord is an atomic.Uint64 that also takes release-only stores: an SPSC
// tail, an MPMC sequence number, published without the full barrier (XCHG)
// of atomic.Uint64.Store, which costs more than the rest of a small
// record's commit. Readers use Load (acquire).
type pubWord atomic.Uint64

func (w *pubWord) storeRelease(v uint64) { atomics.StoreRelease64((*atomic.Uint64)(w), v) }

// storeRel32 is storeRelease for a 32-bit word.
func storeRel32(w *atomic.Uint32, v uint32) { atomics.StoreRelease32(w, v) }
