package ringbuf

import (
	"context"
	"unsafe"
)

// batchPeeked is the consumer's peekA while a Batch is outstanding: no
// record's aligned size is that large, so Peek, Read and ReadBatch, which
// all look at peekA first, see a peek in progress.
const batchPeeked = ^uint64(0)

// A Batch is a run of committed records that PeekBatch found at the head of
// an SPSC ring, read in place with Next and freed together by DiscardBatch:
// ReadBatch without a function call per record (Next inlines), for streams
// of small records where that call is much of the consumer's cost
// (BenchmarkLocal, 64-byte records written and read in one goroutine: 17.0
// ns a record with ReadBatch, 15.5 with PeekBatch).
// A Batch belongs to its ring handle (PeekBatch returns the handle's own,
// without allocating) and is valid until DiscardBatch; after it Next
// returns false.
//
//	b, err := r.PeekBatch(ctx)
//	if err != nil { ... }
//	for rec, ok := b.Next(); ok; rec, ok = b.Next() {
//		use(rec) // in place, until DiscardBatch
//	}
//	r.DiscardBatch()
type Batch struct {
	data []byte // the ring's data area
	pos  uint64 // index of the next record's header; the run starts at the head
}

// Next returns the next record of the batch, in place: the bytes stay valid
// and unchanged until DiscardBatch, and its capacity ends with it. ok is
// false at the end of the run and at anything but a message (padding at the
// wrap, a corrupt header): the next PeekBatch goes on from there, or
// reports ErrCorrupt. Every access stays inside the run whatever the header
// holds.
func (b *Batch) Next() (rec []byte, ok bool) {
	// Its cost is at the inliner's limit: keep it small.
	pos := b.pos
	if pos < uint64(len(b.data)) {
		// pos and len(data) are 8-aligned: the header is inside.
		h := *(*uint64)(unsafe.Pointer(&b.data[pos])) // below the published tail: written before it
		// n <= len(data)-pos-header: the payload, aligned up, is inside too
		// (len(data)-pos is 8-aligned); a length below the header's wraps.
		if n := uint64(uint32(h)) - recordHeaderSize; uint8(h>>40) == recMessage && n <= uint64(len(b.data))-pos-recordHeaderSize {
			pos += recordHeaderSize
			b.pos = pos + (n+recordAlign-1)&^(recordAlign-1)
			return b.data[pos : pos+n : pos+n], true
		}
	}
	return nil, false
}

// PeekBatch waits for a committed record as Peek does (io.EOF, ErrPeerDead,
// ctx's error likewise), then returns the run of committed records from the
// head, up to the published tail, the wrap, or 2 KiB (or the first record
// if it is longer), for Next to read in place; it prefetches the next run
// meanwhile. DiscardBatch frees the records Next returned and publishes the
// space. Until then the handle's other consumer calls (Peek, Read,
// ReadBatch, Discard) are a misuse and panic; PeekBatch again returns the
// same batch, where it was.
func (r *SPSC) PeekBatch(ctx context.Context) (*Batch, error) {
	if r.peekedBatch() {
		return &r.c.batch, nil
	}
	idx, a, err := r.waitNext(ctx, false)
	if err != nil {
		return nil, err
	}
	return r.startBatch(idx, a), nil
}

// TryPeekBatch is PeekBatch without waiting: ok is false when no record is
// ready.
func (r *SPSC) TryPeekBatch() (b *Batch, ok bool, err error) {
	if r.peekedBatch() {
		return &r.c.batch, true, nil
	}
	idx, a, ok, err := r.tryNext()
	if !ok {
		return nil, false, err
	}
	return r.startBatch(idx, a), true, nil
}

// peekedBatch reports whether a batch is outstanding; it panics if a
// record is peeked instead.
func (r *SPSC) peekedBatch() bool {
	if r.c.peekA != 0 && r.c.peekA != batchPeeked {
		panic("ringbuf: PeekBatch while a record is peeked")
	}
	return r.c.peekA == batchPeeked
}

// batchRun is the most a Batch spans (unless its first record is larger):
// PeekBatch prefetches the next run's lines while this one is read, which
// Next, kept small enough to inline, does not do per record.
const batchRun = 2 << 10

// startBatch opens the consumer's batch at idx, the head's index, where
// next found a committed record of aligned size a below the cached tail.
func (r *SPSC) startBatch(idx, a uint64) *Batch {
	head := r.c.head
	n := min(r.c.tailCache-head, r.capacity-idx, max(batchRun, a))
	b := &r.c.batch
	b.data = r.data[:idx+n]
	b.pos = idx
	r.prefetch(head, head+n+batchRun) // this run's lines not yet asked for, and the next run's
	r.c.peekA = batchPeeked
	return b
}

// DiscardBatch frees the records that Next returned since PeekBatch (the
// rest are read again by the next call) and publishes the space.
func (r *SPSC) DiscardBatch() {
	if r.c.peekA != batchPeeked {
		panic("ringbuf: DiscardBatch without PeekBatch")
	}
	b := &r.c.batch
	b.data = b.data[:b.pos] // Next: the batch is over
	r.c.peekA = 0
	r.advance(r.c.head + b.pos - r.c.head&r.mask) // the head has not moved since PeekBatch
}
