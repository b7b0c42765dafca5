package cell

import "sync/atomic"

// recheck reports whether seq still holds s, ending a seqlock read. amd64
// keeps loads in program order (TSO), so a plain atomic load, which cannot
// be satisfied before the copy's loads, suffices and costs nothing.
func recheck(seq *atomic.Uint64, s uint64) bool {
	return seq.Load() == s // observes: no write began since the first load
}
