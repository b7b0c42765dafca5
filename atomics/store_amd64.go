//go:build amd64 && !race

package atomics

import "sync/atomic"

// StoreRelease64 stores v into w with release semantics only: the stores
// before it become visible to other cores no later than v, but unlike
// w.Store (an XCHG on amd64) it does not wait for the store buffer to
// drain. Use it to publish where no later load in the same thread needs to
// be ordered after the store (a ring's tail, a lock's owner word); readers
// use w.Load (acquire). On other architectures, and under the race
// detector, it is w.Store.
//
//go:noescape
func StoreRelease64(w *atomic.Uint64, v uint64)

// StoreRelease32 is StoreRelease64 for a 32-bit word.
//
//go:noescape
func StoreRelease32(w *atomic.Uint32, v uint32)

// Pause executes about n spin-wait hints (PAUSE on amd64): a back-off for
// spinning waiters that does not touch memory.
//
//go:noescape
func Pause(n int)
