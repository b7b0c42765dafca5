package value

import "github.com/shmkit/shmkit/internal/cell"

// A value is an object of kind shm.KindValue in a segment's object
// directory, with capacity 1 (one T). Its body follows the layout that
// package array shares (internal/cell, layout version 3):
//
//	body
//	0        8       12        16                                  64
//	+--------+-------+---------+-----------------------------------+
//	|  seq   | flags | writers |             (zero)                |  seqlock line
//	+--------+-------+---------+-----------------------------------+
//	64                                                            128
//	+--------------------------------------------------------------+
//	|                        lock                                  |  lock line
//	+--------------------------------------------------------------+
//	128                        128+sizeof(T)
//	+--------------------------+
//	|  T (Go layout)           |                                     data line(s)
//	+--------------------------+
//
// seq: even = stable, odd = a Store or Update in progress; written by the
// lock holder, read by Load and by the next lock holder. For a 4- or
// 8-byte integer T, which Load reads as one word without seq, it is odd
// only while an Update stores plainly, and read by the lock-free writers
// announcing themselves, which wait for it to change. flags: cell.FlagRaw for a RawValue, written
// before the object is published. writers: for an integer T, 0 until the
// first Add, Swap or CompareAndSwap of any process announces itself, 1
// while it does, 2 from then on; Update stores plainly only while it is
// 0 (internal/cell/plain.go; any other value counts as 2 for them). lock: the value's lock (Lock, Store,
// Update). T: written by the lock holder between the two increments of
// seq; for a 4- or 8-byte integer T, also by Add, Swap and CompareAndSwap
// with atomic instructions (the word is 8-byte aligned: the data starts a
// cache line).
const (
	offSeq     = cell.OffSeq
	offFlags   = cell.OffFlags
	offWriters = cell.OffWriters
	offLock    = cell.OffLock
	offData    = cell.OffData
)
