//go:build !amd64

package cell

import "sync/atomic"

// recheck reports whether seq still holds s, ending a seqlock read. On
// weakly ordered machines a load-acquire of seq may be satisfied before
// the copy's plain loads; CompareAndSwap(s, s) is a read-don't-modify-write
// with release semantics that orders them before it (Boehm, MSPC 2012). It
// costs a write to seq's cache line, which the writer also writes.
func recheck(seq *atomic.Uint64, s uint64) bool {
	return seq.CompareAndSwap(s, s) // observes: no write began since the first load
}
