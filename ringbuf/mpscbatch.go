package ringbuf

import (
	"context"
	"fmt"

	"github.com/shmkit/shmkit/internal/memcopy"
)

// WriteBatch copies records from recs into the ring, as many as fit now
// (at least one: it blocks while none does, until ctx is done), and
// returns how many it wrote; a caller with more loops on the rest.
//
// The run is claimed with one CAS on the shared tail and published with
// one store, LMAX Disruptor's batch claim (next(n), then publish of the
// claimed range) on Agrona's many-to-one record ring: the first record's
// header, stored at once with the negative length of the whole run
// ("in progress", claimed by this producer's slot and generation), is
// overwritten positive last, after the other records were written whole.
// The consumer stops at that header until then, so it sees all of the run
// or none of it. A producer killed mid-run leaves the run in progress
// (its records are skipped together, as a single record of a dead
// producer is) or, before that first store, a claimed range that its
// slot's claim words cover (skipped whole too).
//
// A run stops before a record that would wrap, before one of 2 KiB or
// more (placed on a cache line, one at a time), and at the room there is;
// WriteBatch then returns the shorter count. Records over MaxRecord are
// ErrTooLarge. The handle's producer lock is held for the call, as for a
// Write. WriteBatch does not allocate.
func (r *MPSC) WriteBatch(ctx context.Context, recs [][]byte) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if len(recs[0]) >= alignMin {
		if err := r.writeSlow(ctx, recs[0]); err != nil {
			return 0, err
		}
		return 1, nil
	}
	if err := r.lockProducer(ctx); err != nil {
		return 0, err
	}
	defer r.unlockProducer()
	r.p.need = 0
	for {
		k, err := r.tryWriteRun(recs)
		if k > 0 || err != nil {
			return k, err
		}
		err = r.p.wait.wait(ctx, r.spaceFor, r.consumerClosed)
		if r.closing.Load() {
			return 0, fmt.Errorf("%w: ring %q: CloseWrite while waiting for room", ErrClosed, r.name)
		}
		if err == errPoll || err == nil {
			if perr := r.consumerGone(err == errPoll); perr != nil {
				return 0, perr
			}
			continue
		}
		return 0, err
	}
}

// TryWriteBatch is WriteBatch without blocking: it returns 0 when not even
// the first record fits now, or while another goroutine's call on the
// handle waits for room (see TryWrite).
func (r *MPSC) TryWriteBatch(recs [][]byte) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if len(recs[0]) >= alignMin {
		ok, err := r.TryWrite(recs[0])
		if !ok {
			return 0, err
		}
		return 1, nil
	}
	if err := r.lockProducer(tryNow); err != nil {
		if err == errWouldBlock { // another goroutine's call waits for room
			err = nil
		}
		return 0, err
	}
	defer r.unlockProducer()
	return r.tryWriteRun(recs)
}

// tryWriteRun claims, writes and publishes the longest run of recs that
// fits now (recs[0] is under alignMin); 0 when not even recs[0] fits (the
// bytes wanted are left in r.p.need). The producer lock is held.
func (r *vring) tryWriteRun(recs [][]byte) (int, error) {
	if r.p.res {
		panic("ringbuf: WriteBatch with a reservation outstanding")
	}
	if r.p.slot < 0 {
		if err := r.attachProducer(); err == errSlotPending {
			r.p.need = r.capacity + 1 // wait for the consumer to move
			return 0, nil
		} else if err != nil {
			return 0, err
		}
	}
	for _, p := range recs {
		if len(p) > r.maxRec {
			return 0, fmt.Errorf("%w: record of %d bytes, ring %q takes at most %d (capacity/2 - %d)", ErrTooLarge, len(p), r.name, r.maxRec, recordHeaderSize)
		}
	}
	claimPos := r.slots.word(r.p.slot, slotOffClaimPos)
	claimEnd := r.slots.word(r.p.slot, slotOffClaimEnd)
	var tail, idx, pad, run uint64
	var k int
	for {
		tail = r.tail.Load()
		if tail%recordAlign != 0 {
			return 0, fmt.Errorf("%w: ring %q tail %d not %d-aligned", ErrCorrupt, r.name, tail, recordAlign)
		}
		h := r.p.headCache
		if h > tail || tail-h > r.capacity {
			h = r.head.Load() // observes: space released by the consumer
			if h > tail {
				if t2 := r.tail.Load(); h > t2 {
					return 0, fmt.Errorf("%w: ring %q head %d past tail %d", ErrCorrupt, r.name, h, t2)
				}
				continue // our tail is stale; a tail read after this head is not
			}
			if tail-h > r.capacity || h%recordAlign != 0 {
				return 0, fmt.Errorf("%w: ring %q head %d, tail %d, capacity %d", ErrCorrupt, r.name, h, tail, r.capacity)
			}
			r.p.headCache = h
		}
		k, idx, pad, run = r.planRun(recs, tail, tail-h)
		if k == 0 {
			// Not even the first fits the cached room: look at the head.
			h = r.head.Load() // observes: space released by the consumer
			if h > tail {
				continue
			}
			if tail-h > r.capacity || h%recordAlign != 0 {
				return 0, fmt.Errorf("%w: ring %q head %d, tail %d, capacity %d", ErrCorrupt, r.name, h, tail, r.capacity)
			}
			r.p.headCache = h
			if k, idx, pad, run = r.planRun(recs, tail, tail-h); k == 0 {
				a := alignRec(uint64(recordHeaderSize + len(recs[0])))
				if toEnd := r.capacity - tail&r.mask; a > toEnd { // planRun's idx is 0 once it wraps
					a += toEnd
				}
				r.p.need = a
				claimEnd.Store(0) // no claim while it waits for room (see tryReserve)
				return 0, nil
			}
		}
		// Release stores: on amd64 the CAS below is a full barrier, so the
		// claim is visible before it (see tryReserve).
		(*pubWord)(claimPos).storeRelease(tail)
		(*pubWord)(claimEnd).storeRelease(tail + pad + run)
		if r.tail.CompareAndSwap(tail, tail+pad+run) { // claims [tail, tail+pad+run): the whole run
			break
		}
	}
	if pad != 0 { // the run does not fit before the wrap: pad to the end
		r.writePad(tail&r.mask, pad)
	}
	first := r.hdr(idx)
	(*pubWord)(first).storeRelease(makeHeader(-int32(run), r.p.slot, recMessage, r.p.gen)) // publishes: run in progress, all of it
	pos := idx + alignRec(uint64(recordHeaderSize+len(recs[0])))
	for _, p := range recs[1:k] {
		n := uint64(len(p))
		memcopy.Copy(r.data[pos+recordHeaderSize:], p)
		*plain64(r.data, pos) = r.p.hdr | (n + recordHeaderSize) // published with the first header
		pos += alignRec(n + recordHeaderSize)
	}
	memcopy.Copy(r.data[idx+recordHeaderSize:], recs[0])
	if runPublishHook != nil {
		runPublishHook()
	}
	(*pubWord)(first).storeRelease(r.p.hdr | uint64(recordHeaderSize+len(recs[0]))) // publishes: the run, every record of it written before
	r.c.wait.wake()
	return k, nil
}

// planRun lays out the run of recs to claim at tail with used bytes of
// the ring in use: k records (0 when not even the first fits), starting at
// index idx after pad bytes of padding to the end of the data (when the
// first does not fit before the wrap), run bytes long. Records stop before
// the wrap, before one of alignMin bytes or more, and at the room.
func (r *vring) planRun(recs [][]byte, tail, used uint64) (k int, idx, pad, run uint64) {
	free := r.capacity - used
	idx = tail & r.mask
	toEnd := r.capacity - idx
	if a := alignRec(uint64(recordHeaderSize + len(recs[0]))); a > toEnd {
		pad, idx, toEnd = toEnd, 0, r.capacity
	}
	if pad >= free {
		return 0, idx, 0, 0
	}
	room := min(toEnd, free-pad)
	for _, p := range recs {
		a := alignRec(uint64(recordHeaderSize + len(p)))
		if len(p) >= alignMin || run+a > room {
			break
		}
		run += a
		k++
	}
	if k == 0 {
		return 0, idx, 0, 0
	}
	return k, idx, pad, run
}

// runPublishHook, set only by tests (a victim process is killed in it),
// runs just before a run's publishing store.
var runPublishHook func()
