package ringbuf

import (
	"encoding/binary"
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// cacheLine is the unit every shared field is placed by. Words written by
// different sides (the producers' tail, the consumer's head, each producer's
// claim) sit on different lines, so that a write by one side does not
// invalidate the line the other side is polling (false sharing costs a
// cross-core transfer per write). It equals shm.CacheLine: objects start on a
// line of their own.
const cacheLine = shm.CacheLine

// Layout versions, checked by Open through the object header. Version 2:
// participant and consumer words are namespace-tagged procinfo words.
// MPMC version 3: a claim may be a run (enqClaimEnd, deqClaimEnd), which a
// version-2 peer would not recover. Version 4: a side's sole claimer moves
// its position with plain stores (enqSole, deqSole: see sole.go), which a
// version-3 peer's CAS would race.
const (
	vringVersion = 2 // SPSC and MPSC
	mpmcVersion  = 4
)

// Variable-length ring body (SPSC and MPSC), after the 64-byte shm object
// header. All integers little-endian; every word is accessed atomically.
//
//	0                                                             64
//	+-------------+---------+-------------+------------------------+
//	| capacity u64| max u32 | slots u32   | (zero)                 |  config, read-only
//	+-------------+---------+-------------+------------------------+
//	64  tail u64 ............................................ [producers]
//	128 head u64 ............................................ [consumer]
//	192 dataSeq u32 | dataWaiters u32 | dataParked u32 ...... [data futex]
//	256 spaceSeq u32 | spaceWaiters u32 | spaceParked u32 ... [space futex]
//	320 consumer ident u64 | consumerEver u32 | producersEver u32 | zeroEnd u64
//	    | consumerSeq u32 | shared u32
//	384 producer slot 0 (64 bytes), slot 1, ... slot slots-1
//	384+64*slots: data, capacity bytes (a power of two)
//
// Byte offsets, as named constants:
//
//	off  size  field
//	  0    8   capacity       data bytes, a power of two
//	  8    4   maxRecord      largest payload, capacity/2 - recordHeaderSize
//	 12    4   slots          producer slots (1..MaxProducers)
//	 64    8   tail           next free byte (absolute position)    [producers write]
//	128    8   head           next unread byte (absolute position)  [consumer writes]
//	192    4   dataSeq        bumped when data is published to a parked consumer
//	196    4   dataWaiters    consumers parked or about to park on dataSeq
//	200    4   dataParked     the latest dataSeq value a consumer parks on
//	256    4   spaceSeq       bumped when space is freed for a parked producer
//	260    4   spaceWaiters   producers parked or about to park on spaceSeq
//	264    4   spaceParked    the latest spaceSeq value a producer parks on
//	320    8   consumer       consumer's procinfo word; 0 = none
//	328    4   consumerEver   1 once a consumer has attached
//	332    4   producersEver  producer attachments so far
//	336    8   zeroEnd        the head the consumer is zeroing up to (MPSC: at every
//	                          publication; SPSC: while its records are at most
//	                          spscZeroMax, else left behind the head)
//	344    4   consumerSeq    bumped when a shared consumer side is handed back (futex)
//	348    4   shared         1 once a consumer used AcquireConsumer
//	384        producer slots
//
// An SPSC producer writes a record's header and payload with plain stores
// and publishes the record by storing tail at Commit; the consumer reads
// headers only below the tail it loaded, so a record in progress is never
// seen. MPSC producers claim space by a CAS on tail before writing it, so
// their headers are stored atomically: negative length at the claim,
// positive at Commit (Agrona's protocol).
//
// The consumer publishes head at every Discard and Read; ReadBatch
// publishes it once per capacity/4 bytes and when the batch ends. Both head
// and the SPSC tail are published with release-only stores (a plain MOV on
// amd64, see store_amd64.s).
//
// tail and head count bytes since creation and are never reduced modulo the
// capacity: tail-head is the number of bytes in use, pos&(capacity-1) the
// index into data. Both stay multiples of recordAlign.
const (
	vOffCapacity      = 0
	vOffMaxRecord     = 8
	vOffSlots         = 12
	vOffTail          = 1 * cacheLine
	vOffHead          = 2 * cacheLine
	vOffDataSeq       = 3 * cacheLine
	vOffDataWaiters   = vOffDataSeq + 4
	vOffDataParked    = vOffDataSeq + 8
	vOffSpaceSeq      = 4 * cacheLine
	vOffSpaceWaiters  = vOffSpaceSeq + 4
	vOffSpaceParked   = vOffSpaceSeq + 8
	vOffConsumer      = 5 * cacheLine
	vOffConsumerEver  = vOffConsumer + 8
	vOffProducersEver = vOffConsumer + 12
	vOffZeroEnd       = vOffConsumer + 16
	vOffConsumerSeq   = vOffConsumer + 24
	vOffShared        = vOffConsumer + 28
	vOffSlots0        = 6 * cacheLine
)

// Producer slot layout (slotSize bytes, one cache line: each producer writes
// only its own line). A slot is taken by a CAS of its owner word from 0 (or
// from a dead process's word) to the taker's procinfo word.
//
//	off  size  field
//	  0    8   owner      procinfo word of the attached producer; 0 = free
//	  8    4   gen        bumped at every attach; records carry its low 16 bits
//	 12    4   (zero)
//	 16    8   claimPos   MPSC: tail value the producer is claiming from
//	 24    8   claimEnd   MPSC: claimPos + bytes claimed (padding included)
//	 32   32   (zero)
//
// claimPos/claimEnd are written before the CAS on tail that claims the space
// and left in place after it, so that a consumer that finds a claimed but
// still zero record header can tell whose claim it is and, if that producer
// died, how far to skip. claimEnd 0 is no claim: a producer that takes the
// slot over stores it first (see vring.claimResolved).
const (
	slotSize        = cacheLine
	slotOffOwner    = 0
	slotOffGen      = 8
	slotOffClaimPos = 16
	slotOffClaimEnd = 24
)

// Record layout: an 8-byte header, then the payload, then padding up to the
// next multiple of recordAlign. The header is one 64-bit word, always stored
// and loaded whole:
//
//	bit  0..31  length  int32: recordHeaderSize + payload bytes;
//	                    negative while in progress, positive once committed,
//	                    0 where nothing was written (MPSC: claimed, not begun)
//	bit 32..39  slot    producer slot that wrote the record
//	bit 40..47  type    recMessage or recPadding
//	bit 48..63  gen     low 16 bits of the slot's gen when it was written
//
// A padding record fills the end of the data area when a record does not
// fit before the wrap; its length covers the bytes up to the end. A record
// of alignMin or more payload bytes is placed so that its payload starts on
// a cache line, after a padding record of 8..56 bytes where needed (the
// consumer skips both kinds alike):
//
//	pos mod 64:  40                  56      64
//	         ... | pad hdr | (unused) | hdr   | payload, from a line start ...
//	             +----- 16 bytes -----+
const (
	recordHeaderSize = 8
	recordAlign      = 8

	// alignMin is the smallest payload placed on a cache line. Go's copy
	// (AVX here: 32-byte stores aligned to the destination) then writes
	// whole lines, and a line-aligned source (any Go allocation of 4 KiB, a
	// page) is loaded without split lines too. Copies into a 4 MiB buffer
	// at an 8-byte offset and on a line took 45 and 39 ns at 2 KiB, 86 and
	// 73 ns at 4 KiB, but 24 and 23 ns at 1 KiB: from 2 KiB up the gain is
	// worth the padding (at most 56 bytes, 2.7%).
	alignMin = 2 << 10

	recMessage = 1
	recPadding = 2
)

// MPMC ring body, after the 64-byte shm object header.
//
//	off  size  field
//	  0    8   capacity       slots, a power of two
//	  8    4   slotBytes      payload bytes per slot
//	 12    4   stride         bytes per slot: mSlotHeader + slotBytes rounded up to 8
//	 16    4   parts          participant slots
//	 24    8   limit          messages held at most; 0: capacity (WithLimit)
//	 64    8   enqueue        next position to fill   [producers CAS; its sole claimer stores]
//	 72    8   enqSole        the producers' sole claimer: 0 none yet, its token, token|1 while
//	                          another joins, soleShared once everyone CASes (see sole.go)
//	128    8   dequeue        next position to empty  [consumers CAS; its sole claimer stores]
//	136    8   deqSole        the same for the consumers
//	192    4   dataSeq        bumped when a slot is filled for a parked consumer
//	196    4   dataWaiters
//	200    4   dataParked
//	256    4   spaceSeq       bumped when a slot is emptied for a parked producer
//	260    4   spaceWaiters
//	264    4   spaceParked
//	320    4   producersEver  producer attachments so far
//	324    4   consumersEver  consumer attachments so far
//	384        participant slots (slotSize bytes each; owner, gen, claim)
//	384+64*parts: capacity slots of stride bytes
//
// Slot layout (Vyukov's bounded MPMC cell):
//
//	off  size  field
//	  0    8   seq      pos: free for the producer of pos;
//	                    pos+1: filled, for the consumer of pos;
//	                    pos+capacity: emptied, free for the next lap
//	  8    4   length   payload bytes; lenAbandoned for a slot given up, and
//	                    for one emptied (or new) until its producer stores a
//	                    length, so that giving up a dead producer's slot is
//	                    the CAS on seq alone
//	 12    4   (zero)
//	 16        payload, slotBytes
//
// Participant slot for MPMC (slotSize bytes, one per handle):
//
//	off  size  field
//	  0    8   owner      procinfo word; 0 = free
//	  8    4   gen        bumped at every attach
//	 12    4   role       roleProducer | roleConsumer, set on first Put / Get
//	 16    8   enqClaim   position+1 of the enqueue CAS made last (0 = none)
//	 24    8   deqClaim   position+1 of the dequeue CAS made last (0 = none)
//	 32    8   enqClaimEnd  end+1 of the enqueue claim's range when it is a
//	                        run (PutBatch); <= enqClaim: the range is one slot
//	 40    8   deqClaimEnd  the same for the dequeue claim (GetBatch)
//
// A claim is stored before its CAS and left after it, so that a peer that
// finds a slot claimed but never filled (or never emptied) can tell whose
// claim it is. A slot claimed for filling whose claimants are all dead is
// given up (abandoned, then skipped). A slot claimed for emptying by a dead
// consumer still holds its message intact (a consumer only reads it, then
// resets its length to lenAbandoned once it has used it, before it gives
// the slot back: an adopter skips such a slot): a
// live consumer adopts the claim (stores it as its own deqClaim, then
// clears the dead one's with a CAS, so that exactly one adopter wins) and
// delivers the message as its own.
//
// Role roleHandoff marks a slot reserved for a child process that was
// handed the ring (package handoff): the child's first attach adopts it.
const (
	mOffCapacity      = 0
	mOffSlotBytes     = 8
	mOffStride        = 12
	mOffParts         = 16
	mOffLimit         = 24
	mOffEnqueue       = 1 * cacheLine
	mOffEnqSole       = mOffEnqueue + 8
	mOffDequeue       = 2 * cacheLine
	mOffDeqSole       = mOffDequeue + 8
	mOffDataSeq       = 3 * cacheLine
	mOffDataWaiters   = mOffDataSeq + 4
	mOffDataParked    = mOffDataSeq + 8
	mOffSpaceSeq      = 4 * cacheLine
	mOffSpaceWaiters  = mOffSpaceSeq + 4
	mOffSpaceParked   = mOffSpaceSeq + 8
	mOffProducersEver = 5 * cacheLine
	mOffConsumersEver = mOffProducersEver + 4
	mOffParts0        = 6 * cacheLine

	mSlotHeader     = 16
	mSlotOffSeq     = 0
	mSlotOffLen     = 8
	lenAbandoned    = 0xffffffff
	partOffRole     = 12
	partOffEnqClaim = 16
	partOffDeqClaim = 24
	roleProducer    = 1
	roleConsumer    = 2
	roleHandoff     = 4
)

// partOffEnqClaimEnd and partOffDeqClaimEnd are the ends of an MPMC
// participant's run claims: a participant claiming a run stores its claim
// word 0, then the end, then the claim (see MPMC.claimRange).
const (
	partOffEnqClaimEnd = 32
	partOffDeqClaimEnd = 40
)

// Limits.
const (
	// MinCapacity and MaxCapacity bound the data area of a variable-length
	// ring (bytes) and the slot count of an MPMC ring.
	MinCapacity = 64
	MaxCapacity = 1 << 30
	// MaxProducers bounds the producer slots of an MPSC ring (and the
	// participant slots of an MPMC ring): the slot index is 8 bits of the
	// record header.
	MaxProducers = 255
	// DefaultProducers is the slot count NewMPSC and NewMPMC use unless
	// WithSlots says otherwise.
	DefaultProducers = 16
	// spscSlots: an SPSC ring has one live producer, but a producer that
	// died keeps its slot until its abandoned record is skipped; a few slots
	// let a successor attach meanwhile.
	spscSlots = 4
	// MaxSlotBytes bounds an MPMC ring's slot payload.
	MaxSlotBytes = 1 << 24
)

// MaxRecord returns the largest payload a variable-length ring of the given
// capacity accepts: half the capacity less the record header, so that a
// record always fits after at most one wrap.
func MaxRecord(capacity int) int { return capacity/2 - recordHeaderSize }

// vringBodySize is the body size of a variable-length ring.
func vringBodySize(capacity, slots int) int { return vOffSlots0 + slots*slotSize + capacity }

// mpmcStride is the bytes one MPMC slot takes.
func mpmcStride(slotBytes int) int { return alignUp(mSlotHeader+slotBytes, 8) }

// mpmcBodySize is the body size of an MPMC ring.
func mpmcBodySize(capacity, slotBytes, parts int) int {
	return mOffParts0 + parts*slotSize + capacity*mpmcStride(slotBytes)
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// alignRec rounds a record's length up to recordAlign.
func alignRec(n uint64) uint64 { return (n + recordAlign - 1) &^ (recordAlign - 1) }

func isPow2(n uint64) bool { return n != 0 && n&(n-1) == 0 }

// checkVringConfig validates the read-only config line of a variable-length
// ring body and returns capacity and slot count; it is the first thing Open
// and the fuzz target run on memory nobody vouches for.
func checkVringConfig(body []byte) (capacity, slots int, err error) {
	if len(body) < vOffSlots0 {
		return 0, 0, fmt.Errorf("%w: ring body of %d bytes, shorter than its %d-byte header", ErrCorrupt, len(body), vOffSlots0)
	}
	c, mr, s := le.Uint64(body[vOffCapacity:]), le.Uint32(body[vOffMaxRecord:]), le.Uint32(body[vOffSlots:])
	switch {
	case !isPow2(c) || c < MinCapacity || c > MaxCapacity:
		return 0, 0, fmt.Errorf("%w: capacity %d is not a power of two in [%d, %d]", ErrCorrupt, c, MinCapacity, MaxCapacity)
	case s < 1 || s > MaxProducers:
		return 0, 0, fmt.Errorf("%w: %d producer slots, want 1..%d", ErrCorrupt, s, MaxProducers)
	case int(mr) != MaxRecord(int(c)):
		return 0, 0, fmt.Errorf("%w: max record %d for capacity %d, want %d", ErrCorrupt, mr, c, MaxRecord(int(c)))
	}
	if want := vringBodySize(int(c), int(s)); len(body) < want {
		return 0, 0, fmt.Errorf("%w: ring body of %d bytes, capacity %d and %d slots need %d", ErrCorrupt, len(body), c, s, want)
	}
	return int(c), int(s), nil
}

// checkMPMCConfig validates the config line of an MPMC ring body.
func checkMPMCConfig(body []byte) (capacity, slotBytes, parts int, err error) {
	if len(body) < mOffParts0 {
		return 0, 0, 0, fmt.Errorf("%w: ring body of %d bytes, shorter than its %d-byte header", ErrCorrupt, len(body), mOffParts0)
	}
	c, sb, st, p := le.Uint64(body[mOffCapacity:]), le.Uint32(body[mOffSlotBytes:]), le.Uint32(body[mOffStride:]), le.Uint32(body[mOffParts:])
	switch {
	case !isPow2(c) || c < 2 || c > MaxCapacity:
		return 0, 0, 0, fmt.Errorf("%w: capacity %d is not a power of two in [2, %d]", ErrCorrupt, c, MaxCapacity)
	case sb > MaxSlotBytes:
		return 0, 0, 0, fmt.Errorf("%w: slot of %d bytes, over %d", ErrCorrupt, sb, MaxSlotBytes)
	case int(st) != mpmcStride(int(sb)):
		return 0, 0, 0, fmt.Errorf("%w: stride %d for %d-byte slots, want %d", ErrCorrupt, st, sb, mpmcStride(int(sb)))
	case p < 1 || p > MaxProducers:
		return 0, 0, 0, fmt.Errorf("%w: %d participant slots, want 1..%d", ErrCorrupt, p, MaxProducers)
	}
	if want := uint64(mOffParts0) + uint64(p)*slotSize + c*uint64(st); uint64(len(body)) < want {
		return 0, 0, 0, fmt.Errorf("%w: ring body of %d bytes, needs %d", ErrCorrupt, len(body), want)
	}
	if l := le.Uint64(body[mOffLimit:]); l > c {
		return 0, 0, 0, fmt.Errorf("%w: limit %d over capacity %d", ErrCorrupt, l, c)
	}
	return int(c), int(sb), int(p), nil
}

var le = binary.LittleEndian
