package cell

import (
	"fmt"
	"math"

	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// cacheLine is the unit of padding: the seqlock word, the lock and the data
// each start a line of their own, so that a writer's lock traffic does not
// invalidate the line readers poll, and neither shares a line with the data.
const cacheLine = shm.CacheLine

// Body layout of a value or array object (layout version 3, arrays 2), after the
// 64-byte object header that package shm writes (kind, element type
// fingerprint, capacity = number of elements):
//
//	0        8       12        16                                   64
//	+--------+-------+---------+------------------------------------+
//	|  seq   | flags | writers |             (zero)                 |  line 0: seqlock
//	+--------+-------+---------+------------------------------------+
//	64                                                             128
//	+---------------------------------------------------------------+
//	|        lock: semaphore.Mutex (LockSize = 64 bytes)            |  line 1: lock
//	+---------------------------------------------------------------+
//	128
//	+---------------------------------------------------------------+
//	| data: capacity elements of the type's size, Go layout         |  lines 2…
//	+---------------------------------------------------------------+
//
//	off  size  field
//	  0    8   seq     seqlock sequence: even = stable, odd = a write is in
//	               progress. Written only by the lock holder (two increments
//	               around each write); read by every reader. [atomic]
//	  8    4   flags   FlagRaw for the raw variants. Written once, before the
//	               object is published; read-only after.
//	 12    4   writers 0 until a lock-free writer of an integer value's data
//	               word (value.Add, Swap, CompareAndSwap) announces itself,
//	               1 while it does, 2 after; while it is 0 a lock holder
//	               may write that word with a plain store (plain.go). A
//	               lock holder takes any other value for 2. Unused by
//	               arrays. [atomic]
//	 16   48   (reserved, zero)
//	 64   64   lock    the object's lock: a semaphore.Mutex (state word,
//	               magic, owner; see package semaphore's layout). [atomic]
//	128  ...   data    capacity × element size bytes. Written under the lock
//	               (raw variants: by anyone, unsynchronised); read by
//	               seqlock readers, or directly through zero-copy views.
//
// A raw object has the same layout and leaves seq and lock at zero.
const (
	OffSeq   = 0
	OffFlags = 8
	// OffWriters is the lock-free writers word (see plain.go).
	OffWriters = 12
	OffLock    = 1 * cacheLine
	LockSize   = (semaphore.MutexSize + cacheLine - 1) / cacheLine * cacheLine
	OffData    = OffLock + LockSize // 128

	// Version is the layout version a value's object header carries.
	// Version 2: the embedded Mutex's words name the holder's PID
	// namespace. Version 3: the writers word, without which a lock holder
	// of version 2 would not know that it must not store plainly, nor a
	// lock-free writer of version 2 announce itself.
	Version = 3
	// ArrayVersion is an array's: 2, as arrays have no lock-free writers
	// and leave the writers word alone, so that version 2's processes may
	// share them still.
	ArrayVersion = 2

	// FlagRaw marks an object created by a raw constructor: no lock, no
	// seqlock.
	FlagRaw = 1 << 0
)

// bodySize returns the body size of an object of n elements of size bytes,
// or an error if it does not fit an int.
func bodySize(n int, size uint32) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("negative length %d", n)
	}
	if size != 0 && uint64(n) > uint64(math.MaxInt-OffData)/uint64(size) {
		return 0, fmt.Errorf("%w: %d elements of %d bytes", shm.ErrNoSpace, n, size)
	}
	return OffData + n*int(size), nil
}

// Validate checks a body found in shared memory against its header: the
// body must hold the data region the capacity and element size announce,
// and the flags must be known. It returns an error matching shm.ErrCorrupt
// that says what is wrong.
func Validate(h shm.ObjectHeader, body []byte) error {
	if h.Capacity > math.MaxInt {
		return fmt.Errorf("%w: capacity %d", shm.ErrCorrupt, h.Capacity)
	}
	want, err := bodySize(int(h.Capacity), h.Type.Size)
	if err != nil {
		return fmt.Errorf("%w: %v", shm.ErrCorrupt, err)
	}
	if len(body) < want {
		return fmt.Errorf("%w: body of %d bytes, %d elements of %d bytes need %d", shm.ErrCorrupt, len(body), h.Capacity, h.Type.Size, want)
	}
	if f := le32(body[OffFlags:]); f&^FlagRaw != 0 {
		return fmt.Errorf("%w: unknown flags %#x", shm.ErrCorrupt, f)
	}
	return nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
