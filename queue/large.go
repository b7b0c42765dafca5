package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/ringbuf"
)

// Out-of-line messages: a message larger than the slot size is encoded
// into a block of the queue's arena (internal/arena: pages of a sparse
// region of the queue's own segment, reserved as they are used) and its
// slot carries a reference to the block, exactly SlotBytes long, which no
// inline message is. The block's owner word says who answers for it:
//
//	Put:  allocate (owner: this process) → encode into the block →
//	      in the slot's fill: write the reference, Publish (owner:
//	      queued) → the ring publishes the slot
//	Get:  claim the slot → Take the block (owner: this process, reading)
//	      → decode → Free → the ring frees the slot
//
// A producer killed before Publish leaves a block whose owner is dead:
// the next Put that waits for room (or any survivor's Reclaim) frees it.
// One killed after Publish and before the ring published the slot leaves
// the block queued in a slot the ring gives up: the consumer that skips
// the slot frees it (discardGivenUp).
// A consumer killed while it reads leaves the slot claimed and the block
// owned by a dead reader: the consumer that adopts the claim (the ring's
// rescue) Takes the block over and delivers the message. A consumer killed
// after Free and before the ring frees the slot had finished with the
// message: the adopter finds the reference stale and moves on.

const (
	// maxLimit bounds Options.MaxMessage: a reference's length field and
	// the arena's size (4 × the limit) stay in range.
	maxLimit = 1 << 36
	// maxDefaultInline is the largest MaxMessage that, with no SlotSize,
	// becomes the slot size (today's fixed-slot queue, no arena).
	maxDefaultInline = 64 << 10
	// arenaRecords is the blocks that may be held besides one per slot:
	// those being filled or read.
	arenaRecords = 256
)

// sizing is a queue's geometry, derived from its options.
type sizing struct {
	maxSize, slots int
	fixed          bool  // the codec's messages have one size (codec.Binary)
	fixedSlot      int   // fixed: Options.SlotSize, the least slot it asks for
	inline, limit  int   // largest message in a slot; largest message
	arena          bool  // limit > inline: an arena holds the larger ones
	arenaBytes     int64 // the arena's size
	records        int
	highWater      int64
}

// sizeFor works out the geometry; anon is New's (the default limit is
// DefaultMaxMessage rather than the slot size).
func sizeFor[T any](c codec.Codec[T], o Options[T], anon bool) sizing {
	z := sizing{maxSize: o.MaxSize}
	if z.maxSize == 0 {
		z.maxSize = DefaultMaxSize
	}
	z.fixed = isFixed(c)
	if z.fixed {
		z.inline = c.Size(nil) // Binary ignores the value
		if o.MaxMessage != 0 {
			z.inline = o.MaxMessage
		}
		z.limit = z.inline
		z.fixedSlot = o.SlotSize
	} else {
		z.sizeVariable(o.SlotSize, o.MaxMessage, anon)
	}
	z.slots = ringSlots(z.maxSize, z.slotPayload()+slotHeader, z.fixed) // a fixed size is never in an arena
	if z.arena {
		// A record for every slot and the blocks being filled or read,
		// but no more than the arena's pages can use: a queue of 2^20
		// slots asked for more records than an arena holds, and New
		// refused a queue of []byte with a MaxSize over 2^19.
		z.records = arena.Records(z.arenaBytes, z.slots+arenaRecords)
	}
	return z
}

// minRingBytes is the least a queue's ring spans: a queue of small
// messages gets more slots than MaxSize, and the ring holds it to MaxSize
// (ringbuf.WithLimit). A stream through a ring of 128 KiB or less ran at
// two thirds of one of 256 KiB or more (BenchmarkStream64, 64-byte
// messages in 128-byte slots, one producer: 16-17 M msgs/s with 512 or
// 1024 slots, 22-26 M with 2048 to 16384), and a ring of 4096 slots held
// to 1024 messages streams as fast as one of 4096 without a limit.
var minRingBytes = 256 << 10

// ringSlots is the slot count of a ring for maxSize messages in slots of
// stride bytes: maxSize rounded up to a power of two, and doubled while it
// spans less than minRingBytes, up to 4 × maxSize (a queue of a few
// messages does not take a quarter of a megabyte); then, for spare (a
// codec of fixed-size messages), doubled once more if
// that leaves fewer than 2 × maxSize and the ring stays within
// spareRingBytes.
func ringSlots(maxSize, stride int, spare bool) int {
	slots := 2
	for slots < maxSize {
		slots *= 2
	}
	// 2*slots, not slots: a bound that is not a power of two must not
	// end past 4 × maxSize (3 would get 16 slots), the most Create's doc
	// lets a caller size a segment for.
	for slots*stride < minRingBytes && 2*slots <= 4*maxSize {
		slots *= 2
	}
	if spare && stride <= spareStrideMax && slots < 2*maxSize && 2*slots*stride <= spareRingBytes {
		slots *= 2 // spare slots: see spareRingBytes
	}
	return slots
}

// spareRingBytes bounds the ring of a queue that gets at least twice
// MaxSize slots (ringSlots): a ring whose slots are all within the bound
// streams at two thirds of one with as many again spare. Held to MaxSize,
// a full ring is filled right behind its consumer, line by line as the
// consumer empties it, and the slot a producer prefetches 32 KiB ahead
// (ringbuf's putAhead) still holds a message to be read; with spare slots
// the producer writes where the consumer was half a ring ago.
// BenchmarkStream64, 64-byte messages in 128-byte slots, one producer,
// 3 interleaved runs: MaxSize 2048 (2048 slots) 22.6-24.1 M msgs/s
// against 33.1-34.2 with 4096 slots; MaxSize 4096 22.5-25.0 against
// 33.4-34.0 with 8192; MaxSize 1024, which had 2048 slots already,
// 31.9-34.0 either way. The doubling stops at 4 MiB (128-byte slots up
// to MaxSize 16384), and only slots of at most spareStrideMax bytes get
// it: a message of a few lines costs its copy more than its hand-over,
// and nothing was measured there to pay for twice the memory. A queue of
// a codec whose messages vary in size (gob, JSON), which a stream finds
// bound by its encoding, not by the ring, keeps its memory too.
var spareRingBytes = 4 << 20

// spareStrideMax is the largest slot (message and header) that
// ringSlots gives spare slots to: messages of up to 240 bytes.
const spareStrideMax = 256

// sizeVariable sizes the slots of a codec whose messages vary in size.
func (z *sizing) sizeVariable(slotSize, maxMessage int, anon bool) {
	switch {
	case slotSize != 0:
		z.inline = slotSize
	case maxMessage != 0 && maxMessage <= maxDefaultInline:
		z.inline = maxMessage
	default:
		z.inline = DefaultSlotSize
	}
	z.limit = maxMessage
	if z.limit == 0 {
		z.limit = z.inline
		if anon {
			z.limit = DefaultMaxMessage
		}
	}
	z.limit = int(min(int64(z.limit), maxLimit)) // (int64: maxLimit is past a 32-bit int)
	z.inline = min(z.inline, z.limit)
	if z.limit > z.inline {
		z.arena = true
		z.arenaBytes = 4 * int64(z.limit)
		// Freed pages stay reserved up to half the arena: a stream
		// reuses them without page faults; past it they go back.
		z.highWater = z.arenaBytes / 2
	}
}

// check refuses a geometry whose slot is past the largest a ring holds
// (ringbuf.MaxSlotBytes), and any other the ring or the arena would
// refuse, before anything is made: refused after the first object was
// placed, the objects before it stayed in the segment for good (see
// Create). Its error names no package; the caller says "queue".
func (z sizing) check() error {
	if z.slotPayload() > ringbuf.MaxSlotBytes {
		return fmt.Errorf("slots of %d bytes: over the largest a ring holds, %d", z.slotPayload(), ringbuf.MaxSlotBytes)
	}
	if err := ringx.CheckMPMC(z.slots, z.slotPayload(), ringParticipants, min(z.maxSize, z.slots)); err != nil {
		return fmt.Errorf("MaxSize %d: %w", z.maxSize, err)
	}
	if z.arena {
		if err := arena.CheckSize(z.arenaBytes, z.records); err != nil {
			return fmt.Errorf("MaxSize %d with messages up to %d bytes out of line: %w", z.maxSize, z.limit, err)
		}
	}
	return nil
}

// fixedSlotBytes is the ring slot size for a codec of fixed-size
// messages of size bytes: the slot and its header rounded up to 8 bytes,
// not to a line, once they fill a line; a smaller one is padded to a
// line, as slotBytes pads. A [64]byte message takes 80 bytes, not 128: a
// lap of the ring is 5 lines for 4 messages instead of 8, and a run of
// messages moves that many fewer lines to the consumer's core. (A ring
// packed so spans more slots for the same bytes: the default queue of
// [64]byte has 4096 slots of 80 bytes, 320 KiB, where it had 2048 of 128,
// 256 KiB; see ringSlots.)
//
// BenchmarkProducers, 3 interleaved passes of each layout (AMD EPYC VM,
// floor 110-150 ns but for 4 far runs), medians, M msgs/s, 128 -> 80-byte
// slots (8192 slots either way): queue-batch (PutBatch and GetBatch of
// 64) with 1 / 2 / 3 / 4 / 8 producers 39.9 / 42.9 / 21.3 / 44.5 / 39.1
// -> 60.0 / 59.9 / 61.6 / 62.3 / 58.0 (the socket's 27-51 in those
// passes); a Put and a Get each 18.6 / 18.3 / 18.8 / 17.8 / 18.9 -> 18.6
// / 19.5 / 19.6 / 10.6 / 20.7. The 4 producers' 10.6 is a slow mode the
// packed layout showed more often: in 20 more alternated runs of each,
// near, 4 of 13 packed runs at 7.6-12.0 M against none of 12 padded ones
// under 14.9 (medians 19.4 and 18.8). The cost is a request answered one
// at a time: BenchmarkRoundTrip64's p50 went from 321-330 to 391 ns in
// the same passes, a slot's header now sharing a line with the slot
// before it, which that slot's Get has just read. A queue that carries
// such requests can ask for whole lines (Options.SlotSize); the pipe,
// the manager's transport and the pool's rings are not queues. Under a
// line the padding stays: 8-byte messages in 24-byte slots, 3 producers
// putting one at a time, ran at 9.6-17.7 M msgs/s against 19.2-20.0 with
// 64-byte slots.
func fixedSlotBytes(size int) int {
	return max((size+slotHeader+7)&^7, cacheLine) - slotHeader
}

// slotPayload is the ring's slot size: room for an inline message (and,
// with an arena, one byte more, so that a reference — a slot of exactly
// this length — is never an inline message).
func (z sizing) slotPayload() int {
	if z.fixed {
		return fixedSlotBytes(max(z.inline, z.fixedSlot))
	}
	if !z.arena {
		return slotBytes(z.inline)
	}
	return slotBytes(max(z.inline+1, arena.RefSize))
}

func arenaMeta(name string) string { return name + ".m" }
func arenaData(name string) string { return name + ".d" }

func (q *Queue[T]) tooLarge(n int) error {
	limit := uint64(q.ctl.maxMessage)
	if q.arena != nil {
		limit = q.ctl.maxLarge
	}
	return fmt.Errorf("%w: %d-byte message, the limit of queue %q is %d bytes (Options.MaxMessage)", ErrTooLarge, n, q.name, limit)
}

// testHookPlaced, when set (by tests), runs after a Put has placed its
// message out of line and before it publishes it.
var testHookPlaced func()

// testHookPublished, when set (by tests), runs after a Put has handed its
// out-of-line message's block to the message and before the ring
// publishes the slot.
var testHookPublished func()

// place encodes *v into a new arena block, without waiting for room; ok is
// false when the arena has none now.
func (q *Queue[T]) place(v *T, m *message) (bool, error) {
	if uint64(m.n) > q.ctl.maxLarge {
		return false, q.tooLarge(m.n)
	}
	blk, ok, err := q.arena.TryAlloc(m.n)
	if !ok || err != nil {
		if err != nil {
			err = fmt.Errorf("queue %q: %w", q.name, err)
		}
		return false, err
	}
	m.blk, m.large = blk, true
	dst := q.arena.Bytes(blk)
	if m.enc != nil {
		memcopy.Copy(dst, m.enc)
	} else {
		w := *v // see tryPut: only copies reach the codec interface
		b, err := codec.AppendShared(q.codec, dst[:0], &w)
		if err == nil && (len(b) != m.n || (m.n > 0 && &b[0] != &dst[0])) {
			err = fmt.Errorf("queue: codec %s wrote %d bytes out of place, Size said %d", codec.Name(q.codec), len(b), m.n)
		}
		if err != nil {
			return false, err // done frees the block
		}
	}
	if testHookPlaced != nil {
		testHookPlaced()
	}
	return true, nil
}

// placeWait is place waiting for room in the arena (backpressure: the
// consumers' Gets free blocks and notify notFull) until ctx is done.
func (q *Queue[T]) placeWait(ctx context.Context, v *T, m *message) error {
	try := func() (bool, error) {
		if q.closed.Load() {
			return false, ErrClosed
		}
		if q.ctl.shutdown.Load() != 0 { // observes: Shutdown
			return false, ErrShutdown
		}
		return q.place(v, m)
	}
	ok, err := try()
	if !ok && err == nil {
		// Blocks of producers that died before sending them: room for
		// the Puts asleep on the arena too, which slept on until their
		// poll, 50 ms (TestReclaimWakesArenaWaiters).
		if q.reclaim() {
			q.ctl.notFull.Notify()
		}
		err = q.ctl.notFull.Wait(ctx, &q.putWait, try)
	}
	return err
}

// reclaim frees the arena blocks of producers that died holding them; it
// reports whether it freed any.
func (q *Queue[T]) reclaim() bool {
	if q.arena == nil {
		return false
	}
	n, _ := q.arena.Reclaim() // ErrCorrupt shows on the next take of a reference
	return n > 0
}

// takeLarge reads the out-of-line message whose reference rec holds: it
// takes the block over, hands its bytes to use and frees it, all before
// the ring frees the slot. stale reports a reference whose block a dead
// consumer had already finished with. The block is freed also when use
// panics (a codec's bug that the caller recovers): the ring gives the
// slot back on the way out (the message is consumed, as by a decoding
// error), and a block left taken was referenced from nowhere and held
// by a live reader, lost until the segment went
// (TestCodecPanicInLargeGetFreesItsBlock).
func (q *Queue[T]) takeLarge(rec []byte, use func(msg []byte) error) (err error, stale bool) {
	blk, err := arena.DecodeRef(rec)
	if err == nil {
		blk, err = q.arena.Take(blk)
	}
	if errors.Is(err, arena.ErrStale) {
		return nil, true
	}
	if err != nil {
		return fmt.Errorf("queue %q: %w", q.name, err), false
	}
	defer func() {
		if ferr := q.arena.Free(blk); err == nil && ferr != nil {
			err = fmt.Errorf("queue %q: %w", q.name, ferr)
		}
	}()
	return use(q.arena.Bytes(blk)), false
}

// discardGivenUp frees the block of an out-of-line message whose slot
// the ring gave up: its producer died after it handed the block to the
// message (arena.Publish) and before the ring published the slot, so no
// Get will deliver it and no Reclaim frees it (a queued block belongs to
// its message). The slot's payload may hold anything (see
// ringx.MPMC.OnGivenUp): arena.Discard frees only a queued block the
// reference is current for.
func (q *Queue[T]) discardGivenUp(payload []byte) {
	if blk, err := arena.DecodeRef(payload); err == nil && q.arena.Discard(blk) {
		q.ctl.notFull.Notify() // room for Puts waiting on the arena
	}
}

// arenaUsed is the bytes of out-of-line messages, whole pages.
func (q *Queue[T]) arenaUsed() int64 {
	if q.arena == nil {
		return 0
	}
	return q.arena.Used()
}

// GetFunc removes the oldest message and hands its encoded bytes to use,
// in place in shared memory, with no copy and no decoding (the zero-copy
// receive, for messages of any size), waiting while the queue is empty as
// Get does. The bytes are valid only during use: the message's slot or
// block is freed when use returns. use's error is returned.
func (q *Queue[T]) GetFunc(ctx context.Context, use func(msg []byte) error) error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.calls.leave()
	q.joinConsumers()
	try := func() (bool, error) { return q.tryGetFunc(use) }
	ok, err := try()
	if ok || err != nil {
		q.setStreaming(ok)
		return err
	}
	if q.ctl.shutdown.Load() != 0 && q.rx.Outstanding() == 0 { // observes: Shutdown
		return ErrShutdown
	}
	// The message at once, not a run: a GetFunc's messages are the large
	// ones, each worth its wake (see ringx.DataGate for the others).
	err = q.ctl.notEmpty.WaitFor(ctx, &q.getWait, &q.getSpin, q.getProbe, func() (bool, error) {
		ok, err := try()
		if !ok && err == nil && q.ctl.shutdown.Load() != 0 && q.rx.Outstanding() == 0 {
			return false, ErrShutdown
		}
		return ok, err
	})
	q.setStreaming(false)
	return err
}

func (q *Queue[T]) tryGetFunc(use func(msg []byte) error) (bool, error) {
	if q.closed.Load() {
		return false, ErrClosed
	}
	uncounted := 0
	defer q.releasedUncounted(&uncounted) // also when nothing was got: it may have skipped given-up slots (see take)
	for {
		var uerr error
		stale := false
		ok, err := q.ring.TryGetFunc(func(rec []byte) {
			if q.joinable {
				uncounted++ // until counted: a panic in use leaves it uncounted (see take)
			}
			// A task is counted once its message reached use: a corrupt
			// reference's never does, and like Get's it is consumed,
			// reported and no task (TestCorruptReferenceIsNoTask); a
			// stale one is no message.
			handed := true
			if q.arena != nil && len(rec) == q.refLen {
				handed = false
				uerr, stale = q.takeLarge(rec, func(msg []byte) error {
					handed = true
					return use(msg)
				})
			} else {
				uerr = use(rec)
			}
			if q.joinable && handed {
				q.gotTask()
				uncounted--
			}
		})
		if err != nil {
			return false, fmt.Errorf("queue %q: %w", q.name, err)
		}
		if !ok {
			return false, nil
		}
		if stale {
			continue
		}
		return true, uerr
	}
}
