// Package storethree holds the store pattern whose machine code
// TestStoreReleaseNotElided reads.
package storethree

import (
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
)

// Claim64 is a claim published in three steps, as the rings' run claims
// are (see ringbuf's claimRange): Pos cleared, End set, Pos set. A reader
// in another process that loads Pos, End, then Pos again relies on each
// of the three stores reaching memory, in this order.
type Claim64 struct{ Pos, End atomic.Uint64 }

// Store64 makes the claim [pos, end) on c.
func Store64(c *Claim64, pos, end uint64) {
	atomics.StoreRelease64(&c.Pos, 0)
	atomics.StoreRelease64(&c.End, end)
	atomics.StoreRelease64(&c.Pos, pos)
}

// Claim32 is Claim64 with 32-bit words.
type Claim32 struct{ Pos, End atomic.Uint32 }

// Store32 is Store64 for a Claim32.
func Store32(c *Claim32, pos, end uint32) {
	atomics.StoreRelease32(&c.Pos, 0)
	atomics.StoreRelease32(&c.End, end)
	atomics.StoreRelease32(&c.Pos, pos)
}
