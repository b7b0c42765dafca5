package array

import "github.com/shmkit/shmkit/internal/cell"

// An array is an object of kind shm.KindArray in a segment's object
// directory; its header's capacity is the length n. Its body follows the
// layout that package value shares (internal/cell; layout version 2 for
// an array, whose writers word stays zero):
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
//	128      128+s    128+2s                        128+n·s
//	+--------+--------+-------- … --------+---------+
//	|  T[0]  |  T[1]  |                   | T[n-1]  |                data, s = sizeof(T)
//	+--------+--------+-------- … --------+---------+
//
// seq: even = stable, odd = a Set, CopyFrom, WriteAt or With in progress;
// written by the lock holder, read by At, CopyTo, ReadAt and All. flags:
// cell.FlagRaw for a RawArray. writers: a value's, unused by arrays
// (zero). data: the elements in Go's layout (a Go
// []T over it is the zero-copy view), starting a cache line, so aligned
// for any T.
const (
	offSeq   = cell.OffSeq
	offFlags = cell.OffFlags
	offLock  = cell.OffLock
	offData  = cell.OffData
)
