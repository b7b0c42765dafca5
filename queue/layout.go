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
// Version 2: the peer tables hold namespace-tagged procinfo words.
const layoutVersion = 2

// Queue control block: the body of the KindQueue object "<name>". The
// messages themselves live in a ringbuf MPMC ring, the object "<name>.r" in
// the same segment. All words little-endian, accessed atomically.
//
//	  0  config line, written once by Create:
//	       0 maxSize u32     message bound (0: the ring's slot count)
//	       4 maxMessage u32  largest encoded message (the ring's slot size)
//	       8 maxBytes u64    bound on the encoded bytes queued (0: none)
//	      16 flags u32       flagJoinable
//	 64  closed u32                      [Close writes; everyone reads]
//	     68 attachOverflow u32            [1: a process found the attached table full]
//	128  notEmpty: seq u32, sleepers u32 [producers bump seq; consumers sleep]
//	192  notFull:  seq u32, sleepers u32 [consumers bump seq; producers sleep]
//	256  count i64, bytes i64            [both sides; only when bounded]
//	320  unfinished u32, joinSleepers u32, joinSeq u32 [Joinable only]
//	384  producers: peerSlots u64 procinfo words [a producer joins once]
//	384+8*peerSlots  consumers: peerSlots u64 procinfo words
//	384+16*peerSlots attached: peerSlots u64 procinfo words [every process
//	     that creates, opens or decodes the queue]
//	bodySize = 384 + 24*peerSlots
//
// A waiter gives up on the other side (ErrPeerDead) when that side's table
// holds only dead processes and every live attached process has joined
// only the waiter's side (notify.Gone); an overflowing attached table turns
// the check off rather than guess.
//
// count and bytes are kept only when a bound needs them (maxSize below the
// ring's slot count, or maxBytes set): an unbounded queue's hot path touches
// no shared counter besides the ring's own indices.
const (
	offMaxSize      = 0
	offMaxMessage   = 4
	offMaxBytes     = 8
	offFlags        = 16
	offClosed       = 1 * cacheLine
	offOverflow     = offClosed + 4
	offNotEmpty     = 2 * cacheLine
	offNotFull      = 3 * cacheLine
	offCount        = 4 * cacheLine
	offBytes        = offCount + 8
	offUnfinished   = 5 * cacheLine
	offJoinSleepers = offUnfinished + 4
	offJoinSeq      = offUnfinished + 8
	offProducers    = 6 * cacheLine
	peerSlots       = 32
	offConsumers    = offProducers + 8*peerSlots
	offAttached     = offConsumers + 8*peerSlots
	bodySize        = offAttached + 8*peerSlots

	flagJoinable = 1
)

// control is the control block seen as typed words. It is the one place in
// this package that turns shared memory into pointers (through atomics'
// checked accessors and, for the peer tables, one unsafe.Slice over bytes
// whose bounds and alignment were checked).
type control struct {
	maxSize    uint32 // copies of the config line, read once
	maxMessage uint32
	maxBytes   uint64
	flags      uint32

	closed     *atomic.Uint32
	overflow   *atomic.Uint32
	notEmpty   notify.Event
	notFull    notify.Event
	count      *atomic.Int64
	bytes      *atomic.Int64
	unfinished *atomic.Uint32
	join       notify.Event
	producers  notify.Peers
	consumers  notify.Peers
	attached   notify.Peers
}

func writeConfig(body []byte, maxSize, maxMessage uint32, maxBytes uint64, flags uint32) {
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
		maxSize:    atomics.MustUint32At(body, offMaxSize).Load(),
		maxMessage: atomics.MustUint32At(body, offMaxMessage).Load(),
		maxBytes:   atomics.MustUint64At(body, offMaxBytes).Load(),
		flags:      atomics.MustUint32At(body, offFlags).Load(),
		closed:     atomics.MustUint32At(body, offClosed),
		overflow:   atomics.MustUint32At(body, offOverflow),
		notEmpty:   notify.Event{Seq: atomics.MustUint32At(body, offNotEmpty), Sleepers: atomics.MustUint32At(body, offNotEmpty+4)},
		notFull:    notify.Event{Seq: atomics.MustUint32At(body, offNotFull), Sleepers: atomics.MustUint32At(body, offNotFull+4)},
		count:      atomics.MustInt64At(body, offCount),
		bytes:      atomics.MustInt64At(body, offBytes),
		unfinished: atomics.MustUint32At(body, offUnfinished),
		join:       notify.Event{Seq: atomics.MustUint32At(body, offJoinSeq), Sleepers: atomics.MustUint32At(body, offJoinSleepers)},
		producers:  peersAt(body, offProducers),
		consumers:  peersAt(body, offConsumers),
		attached:   peersAt(body, offAttached),
	}
	if c.flags&^flagJoinable != 0 {
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
