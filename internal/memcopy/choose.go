package memcopy

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/internal/spin"
)

// Which way a copy goes: through the caches or around them (see the
// package doc for what each is at each size). On the 2-core VM where this
// was measured the placement of its cores changes every few minutes (the
// shared-memory spin floor's p50 goes from 130-150 ns to 470-510), and
// BenchmarkHandOver, two copies a round trip, took (µs):
//
//	         near: through  around   far: through  around
//	64 KiB         9.3-9.9  5.7-6.2         34-36   6.0-7.8
//	1 MiB          45-49    59-65           410-490 59-65
//
// So each copy is timed, and the process keeps, for each class of copies
// (a power of two of sizes under 1 MiB, and every size from 1 MiB on),
// what a MiB cost each way: an average over its recent copies that way. A class goes through the caches unless
// that costs more than its slack times the way around them. A copy that
// turns slow raises its way's cost, and the next copies go the other way.
// The way not taken is tried again now and then, its cost then replaced
// by what that copy took: first with the class's second copy, then after
// tryFirst copies, the gap doubling up to tryMax, so a placement pays for
// a few copies the wrong way in tryMax at worst (a try through the caches
// after copies around them reads a source that was written around them
// too, and may look cheap enough: the copies after it, slow, raise its
// cost again), and a change of placement is found within tryMax copies.
// The state is the process's, shared by every copy in it, and updated
// without locks: copies made at once may lose each other's updates, which
// only delays what the next ones learn.
const (
	viaCache    = 0
	aroundCache = 1

	tryFirst = 16
	tryMax   = 1024

	// largeSlack and smallSlack are how many times dearer than the way
	// around the caches the way through them may look and still be taken,
	// in tenths, from ntFrom on and under it. A copy's time depends on how
	// its source was written (by the other side's way) and its reader's
	// time on how it was written, neither of which the timing sees. At
	// 1 MiB, near, the two ways came out close (23 and 27 µs a MiB, each
	// measured alone), but taking the one that looked cheaper the copies
	// went around the caches and the round trip lost its gain (64-71 µs
	// against 55-58, RequestResponse); with a slack of 2, streams of 1 MiB
	// in the far placement went through the caches and lost a third
	// (BenchmarkStream ring-batch 14-19 k msgs/s against 20-25 with 1.5 or
	// Go's copy). 1.5 kept both. Under 1 MiB the way around the caches
	// won near too at 64 KiB (BenchmarkHandOver 5.7-7.0 µs against
	// 9.3-9.9), not at 256 KiB (17-19 against 14-15), and no bias was
	// needed.
	largeSlack = 15
	smallSlack = 10

	// maxSample bounds a sample against its way's average (see took).
	maxSample = 3
)

// A chooser is the state of one class of copies: what a MiB cost each
// way, and when the way not taken is tried next.
type chooser struct {
	slack int64           // how many tenths of the way around's cost the way through the caches may cost and be taken
	cost  [2]atomic.Int64 // ns a MiB each way: 0 until a copy went that way
	count atomic.Uint64   // copies made
	next  atomic.Uint64   // the count at which the way not taken is tried next
	gap   atomic.Uint64   // the gap to the try after it
}

// choosers holds a class of copies per power of two from chooseFrom
// (near, the way around the caches won at 64 KiB and lost at 256 KiB, so a
// class for all of them would give one answer where two are right), the
// last for every copy from ntFrom on: under ntFrom the way around the
// caches is copyAround, from ntFrom on it is Go's copy, and the way
// through them is in pieces.
var choosers [classes]chooser

func init() {
	for i := range choosers {
		choosers[i].slack = smallSlack
	}
	choosers[classes-1].slack = largeSlack
}

// classes counts the classes: chooseFrom (2^15) to ntFrom (2^20).
const classes = 6

// chooserFor returns the class of a copy of n bytes (n >= chooseFrom).
func chooserFor(n int) *chooser {
	return &choosers[min(bits.Len(uint(n))-bits.Len(chooseFrom), classes-1)]
}

// forceWay, when not -1 (tests), is the way every chosen copy goes.
var forceWay = -1

// preferred is the way the costs learnt so far say.
func (c *chooser) preferred() int {
	via, around := c.cost[viaCache].Load(), c.cost[aroundCache].Load()
	if via != 0 && around != 0 && 10*via > c.slack*around {
		return aroundCache
	}
	return viaCache
}

// choose returns the way the next copy goes and whether it is a try of
// the way not taken.
func (c *chooser) choose() (way int, try bool) {
	if forceWay >= 0 {
		return forceWay, false
	}
	way = c.preferred()
	n := c.count.Add(1)
	if next := c.next.Load(); n >= next {
		if next == 0 { // the first copy: the other way is tried with the next
			c.gap.Store(tryFirst / 2) // doubled by that try
			c.next.Store(n + 1)
			return way, false
		}
		return 1 - way, true
	}
	return way, false
}

// took records that a copy of n bytes the given way took d ns. A sample
// counts for at most maxSample times the way's cost so far: one copy
// stretched by a preemption or a page fault moves the average by half at
// most.
func (c *chooser) took(way int, try bool, n int, d int64) {
	cost := min(max(d, 1), int64(time.Second)) * (1 << 20) / int64(n)
	if try {
		c.cost[way].Store(cost)
		gap := min(2*c.gap.Load(), tryMax)
		c.gap.Store(gap)
		c.next.Store(c.count.Load() + gap)
		return
	}
	if old := c.cost[way].Load(); old != 0 {
		cost = old + (min(cost, maxSample*old)-old)/4
	}
	c.cost[way].Store(cost)
}

// copyChosen copies n bytes of src to dst (which do not overlap) the way
// the chooser says, and times it for the chooser.
func copyChosen(dst, src []byte, n int) {
	c := chooserFor(n)
	way, try := c.choose()
	t0 := spin.Now()
	switch {
	case way == viaCache && n < ntFrom:
		copy(dst[:n], src[:n])
	case way == viaCache:
		copyPieces(dst, src, n)
	case n < ntFrom:
		copyAround(dst[:n], src[:n])
	default:
		copy(dst[:n], src[:n]) // Go's copy goes around the caches from ntFrom on
	}
	c.took(way, try, n, spin.Now()-t0)
}
