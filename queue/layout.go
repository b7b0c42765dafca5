package queue

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/shm"
)

// cacheLine is the unit the control block is laid out by: words written by
// different sides (consumers bump notFull, producers bump notEmpty) sit on
// different lines so that one side's write does not evict the line the
// other side polls. It equals shm.CacheLine.
const cacheLine = shm.CacheLine

// layoutVersion is the queue object's layout version, checked on Open.
// Version 2: the bounds and the unfinished-task count are derived (from
// the ring's positions and from per-process task records) instead of kept
// in shared counters that a kill could leave off by one.
// The peer tables hold namespace-tagged procinfo words.
// Version 3: messages larger than a slot live out of line in an arena
// (flagArena; the limit at offset 24), the slot carrying a reference.
const layoutVersion = 3

// Queue control block: the body of the KindQueue object "<name>". The
// messages themselves live in a ringbuf MPMC ring, the object "<name>.r" in
// the same segment. All words little-endian, accessed atomically.
//
//	  0  config line, written once by Create:
//	       0 maxSize u32     message bound (0: the ring's slot count)
//	       4 slotMessage u32 largest message held in a slot (inline)
//	       8 maxBytes u64    bound on the encoded bytes queued (0: none)
//	      16 flags u32       flagJoinable, flagArena
//	      24 maxMessage u64  largest encoded message; past slotMessage it
//	                         goes out of line in the arena "<name>.m"/".d"
//	                         and its slot (exactly SlotBytes long) holds an
//	                         arena reference
//	 64  shutdown u32                    [Shutdown writes; everyone reads]
//	     68 attachOverflow u32            [1: a process found the attached table full]
//	128  notEmpty: seq u32, sleepers u32 [producers bump seq; consumers sleep]
//	192  notFull:  seq u32, sleepers u32 [consumers bump seq; producers sleep]
//	256  lost u64, lostPid u32           [Joinable: tasks counted out of dead consumers]
//	     272 untrackedGot u64, untrackedDone u64 [Joinable: processes with no task record]
//	320  joinSeq u32, joinSleepers u32   [Joinable: TaskDone bumps; Join sleeps]
//	384  producers: peerSlots u64 procinfo words [a producer joins once]
//	384+8*peerSlots  consumers: peerSlots u64 procinfo words
//	384+16*peerSlots attached: peerSlots u64 procinfo words [every process
//	     that creates, opens or decodes the queue, and every child process
//	     it is handed to, from the moment the child starts]
//	384+24*peerSlots tasks: peerSlots records of 32 bytes [Joinable]
//	     { ident u64 procinfo word, got u64, done u64, pad u64 }
//	bodySize = 384 + 56*peerSlots
//
// A waiter gives up on the other side (ErrPeerDead) when that side's table
// and the attached processes that have not joined the waiter's side name
// somebody and all of them are dead (notify.Gone); an overflowing attached
// table turns the check off rather than guess.
//
// Bounds: MaxSize is the ring's own limit (ringbuf.WithLimit), derived from
// its positions; MaxBytes is checked against the bytes the ring holds. No
// shared counter is kept for either, so a producer killed mid-Put takes no
// unit of a bound with it.
//
// Unfinished tasks of a Joinable: the messages the ring still holds or that
// a consumer is taking (ringbuf's Outstanding), plus, for each process, the
// tasks it got minus those it marked done (its record), plus the untracked
// pair. A process killed with tasks got and not done leaves a record whose
// owner is dead: Join counts those tasks out into lost and reports them.
const (
	offMaxSize       = 0
	offMaxMessage    = 4
	offMaxBytes      = 8
	offFlags         = 16
	offMaxLarge      = 24
	offShutdown      = 1 * cacheLine
	offOverflow      = offShutdown + 4
	offNotEmpty      = 2 * cacheLine
	offNotFull       = 3 * cacheLine
	offLost          = 4 * cacheLine
	offLostPid       = offLost + 8
	offUntrackedGot  = offLost + 16
	offUntrackedDone = offLost + 24
	offJoinSeq       = 5 * cacheLine
	offJoinSleepers  = offJoinSeq + 4
	offProducers     = 6 * cacheLine
	peerSlots        = 32
	offConsumers     = offProducers + 8*peerSlots
	offAttached      = offConsumers + 8*peerSlots
	offTasks         = offAttached + 8*peerSlots
	taskSize         = 32
	bodySize         = offTasks + taskSize*peerSlots

	flagJoinable = 1
	flagArena    = 2
)

// control is the control block seen as typed words. It is the one place in
// this package that turns shared memory into pointers (through atomics'
// checked accessors and, for the peer tables, one unsafe.Slice over bytes
// whose bounds and alignment were checked).
type control struct {
	maxSize    uint32 // copies of the config line, read once
	maxMessage uint32 // slotMessage: the largest message held inline
	maxBytes   uint64
	maxLarge   uint64 // the largest message, out of line past maxMessage
	flags      uint32

	shutdown      *atomic.Uint32
	overflow      *atomic.Uint32
	notEmpty      notify.Event
	notFull       notify.Event
	lost          *atomic.Uint64
	lostPid       *atomic.Uint32
	untrackedGot  *atomic.Uint64
	untrackedDone *atomic.Uint64
	join          notify.Event
	producers     notify.Peers
	consumers     notify.Peers
	attached      notify.Peers
	tasks         []taskRecord
}

// taskRecord is one process's tasks of a Joinable: got counts the messages
// its Gets returned, done its TaskDone calls. ident owns the record
// (procinfo word; 0 = free). Only the owner adds to got and done; a process
// that finds the owner dead counts the record out (see countOut).
type taskRecord struct {
	ident, got, done *atomic.Uint64
}

func writeConfig(body []byte, maxSize, maxMessage uint32, maxBytes uint64, flags uint32, maxLarge uint64) {
	atomics.MustUint64At(body, offMaxLarge).Store(maxLarge)
	atomics.MustUint32At(body, offMaxSize).Store(maxSize)
	atomics.MustUint32At(body, offMaxMessage).Store(maxMessage)
	atomics.MustUint64At(body, offMaxBytes).Store(maxBytes)
	atomics.MustUint32At(body, offFlags).Store(flags)
}

// controlAt checks body's size and config and returns its words.
func controlAt(body []byte) (*control, error) {
	if len(body) < bodySize {
		return nil, fmt.Errorf("%w: queue body of %d bytes, want %d", ErrCorrupt, len(body), bodySize)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(body)))%8 != 0 {
		return nil, fmt.Errorf("%w: queue body misaligned", ErrCorrupt)
	}
	c := &control{
		maxSize:       atomics.MustUint32At(body, offMaxSize).Load(),
		maxMessage:    atomics.MustUint32At(body, offMaxMessage).Load(),
		maxBytes:      atomics.MustUint64At(body, offMaxBytes).Load(),
		maxLarge:      atomics.MustUint64At(body, offMaxLarge).Load(),
		flags:         atomics.MustUint32At(body, offFlags).Load(),
		shutdown:      atomics.MustUint32At(body, offShutdown),
		overflow:      atomics.MustUint32At(body, offOverflow),
		notEmpty:      notify.Event{Seq: atomics.MustUint32At(body, offNotEmpty), Sleepers: atomics.MustUint32At(body, offNotEmpty+4)},
		notFull:       notify.Event{Seq: atomics.MustUint32At(body, offNotFull), Sleepers: atomics.MustUint32At(body, offNotFull+4)},
		lost:          atomics.MustUint64At(body, offLost),
		lostPid:       atomics.MustUint32At(body, offLostPid),
		untrackedGot:  atomics.MustUint64At(body, offUntrackedGot),
		untrackedDone: atomics.MustUint64At(body, offUntrackedDone),
		join:          notify.Event{Seq: atomics.MustUint32At(body, offJoinSeq), Sleepers: atomics.MustUint32At(body, offJoinSleepers)},
		producers:     peersAt(body, offProducers),
		consumers:     peersAt(body, offConsumers),
		attached:      peersAt(body, offAttached),
		tasks:         make([]taskRecord, peerSlots),
	}
	for i := range c.tasks {
		off := offTasks + i*taskSize
		c.tasks[i] = taskRecord{atomics.MustUint64At(body, off), atomics.MustUint64At(body, off+8), atomics.MustUint64At(body, off+16)}
	}
	if c.flags&^(flagJoinable|flagArena) != 0 {
		return nil, fmt.Errorf("%w: unknown queue flags %#x", ErrCorrupt, c.flags)
	}
	return c, nil
}

// peersAt views peerSlots 64-bit words at off (bounds and alignment checked
// by controlAt) as a peer table.
func peersAt(body []byte, off int) notify.Peers {
	p := (*atomic.Uint64)(unsafe.Pointer(&body[off]))
	return unsafe.Slice(p, peerSlots)
}
