package shm

import "strconv"

// Kind says what a segment or object is. The values are part of the
// on-memory format: never renumber them.
type Kind uint16

// KindSegment is the kind of every segment header.
const KindSegment = 1

// Object kinds. Each package that lays out an object uses its own.
const (
	KindBytes     Kind = 1  // plain bytes (Segment.Alloc with no other kind)
	KindValue     Kind = 2  // value.Value[T]
	KindArray     Kind = 3  // array.Array[T]
	KindMutex     Kind = 4  // semaphore.Mutex
	KindRWMutex   Kind = 5  // semaphore.RWMutex
	KindSemaphore Kind = 6  // semaphore.Semaphore
	KindEvent     Kind = 7  // semaphore.Event
	KindCond      Kind = 8  // semaphore.Cond
	KindBarrier   Kind = 9  // semaphore.Barrier
	KindSPSC      Kind = 10 // ringbuf SPSC variable-length ring
	KindMPSC      Kind = 11 // ringbuf many-to-one variable-length ring
	KindMPMC      Kind = 12 // ringbuf MPMC fixed-slot ring
	KindQueue     Kind = 13 // queue.Queue[T]
	KindPipe      Kind = 14 // pipe.Pipe
	KindArena     Kind = 15 // internal/arena allocator metadata
	KindArenaData Kind = 16 // internal/arena pages (a sparse object)
)

var kindNames = map[Kind]string{
	KindBytes: "bytes", KindValue: "value", KindArray: "array", KindMutex: "mutex",
	KindRWMutex: "rwmutex", KindSemaphore: "semaphore", KindEvent: "event", KindCond: "cond",
	KindBarrier: "barrier", KindSPSC: "ring-spsc", KindMPSC: "ring-mpsc", KindMPMC: "ring-mpmc",
	KindQueue: "queue", KindPipe: "pipe", KindArena: "arena", KindArenaData: "arena-data",
}

// String returns the kind's name ("value", "ring-spsc", …).
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}
