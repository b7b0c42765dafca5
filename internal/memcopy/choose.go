package memcopy

import (
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/spin"
)

// Which way a large copy goes: through the caches, in pieces, or around
// them, Go's own copy. Through the caches is faster while the cores that
// write and read the message are near each other (share a cache or a fast
// link to one); around them wins by far where they are not: a line another
// core holds then crosses a slow link, and memory does not. On the 2-core
// VM where this was measured the placement changes every few minutes
// (the shared-memory spin floor's p50 goes from 130-150 ns to 470-510),
// and BenchmarkHandOver, two copies of 1 MiB a round trip, took 45-49 µs
// through the caches and 60-62 around them near, 410-470 through the
// caches and 54-62 around them far.
//
// So each large copy is timed, and the process keeps what a MiB cost each
// way (an average over its recent copies that way). It goes through the
// caches unless that costs more than viaSlack times the way around them.
// A copy through the caches that turns slow raises its cost, and the next
// copies go around. The way not taken is tried again now and then, its
// cost then replaced by what that copy took: first with the process's
// second large copy, then after tryFirst copies, the gap doubling up to
// tryMax, so a far placement pays for a few copies through the caches in
// tryMax at worst (a try through the caches after copies around them
// reads a source that was written around them too, and may look cheap
// enough: the copies after it, slow, raise its cost again), and a return
// to the near placement is found within tryMax copies.
// The state is the process's, shared by every copy in it, and updated
// without locks: copies made at once may lose each other's updates, which
// only delays what the next ones learn.
const (
	viaCache    = 0
	aroundCache = 1

	tryFirst = 16
	tryMax   = 1024

	// viaSlack is how many times dearer than the way around the caches the
	// way through them may look and still be taken. A copy's time depends
	// on how its source was written (by the other side's way), not only on
	// its own, so each way's cost is measured partly under the other, and
	// near each other the two are close: 23 and 27 µs a MiB each measured
	// alone, but taking the one that looked cheaper by a hair, the copies
	// went around the caches and the round trip lost its gain (55-62 µs,
	// against 45-49 through the caches). Far, they differ ten times.
	viaSlack = 2
)

var chooser struct {
	cost  [2]atomic.Int64 // ns a MiB each way: 0 until a copy went that way
	count atomic.Uint64   // large copies made
	next  atomic.Uint64   // the count at which the way not taken is tried next
	gap   atomic.Uint64   // the gap to the try after it
}

// forceWay, when not -1 (tests), is the way every large copy goes.
var forceWay = -1

// preferred is the way the costs learnt so far say.
func preferred() int {
	via, around := chooser.cost[viaCache].Load(), chooser.cost[aroundCache].Load()
	if via != 0 && around != 0 && via > viaSlack*around {
		return aroundCache
	}
	return viaCache
}

// choose returns the way the next large copy goes and whether it is a try
// of the way not taken.
func choose() (way int, try bool) {
	if forceWay >= 0 {
		return forceWay, false
	}
	way = preferred()
	n := chooser.count.Add(1)
	if next := chooser.next.Load(); n >= next {
		if next == 0 { // the first large copy: the other way is tried with the next
			chooser.gap.Store(tryFirst / 2) // doubled by that try
			chooser.next.Store(n + 1)
			return way, false
		}
		return 1 - way, true
	}
	return way, false
}

// took records that a copy of n bytes the given way took d ns.
func took(way int, try bool, n int, d int64) {
	c := max(d, 1) * (1 << 20) / int64(n)
	if try {
		chooser.cost[way].Store(c)
		gap := min(2*chooser.gap.Load(), tryMax)
		chooser.gap.Store(gap)
		chooser.next.Store(chooser.count.Load() + gap)
		return
	}
	if old := chooser.cost[way].Load(); old != 0 {
		c = old + (c-old)/4
	}
	chooser.cost[way].Store(c)
}

// copyChosen copies n bytes of src to dst (which do not overlap) the way
// the chooser says, and times it for the chooser.
func copyChosen(dst, src []byte, n int) {
	way, try := choose()
	t0 := spin.Now()
	if way == aroundCache {
		copy(dst[:n], src[:n])
	} else {
		for off := 0; off < n; off += piece {
			end := min(off+piece, n)
			copy(dst[off:end], src[off:end])
		}
	}
	took(way, try, n, spin.Now()-t0)
}
