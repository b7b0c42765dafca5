package ringbuf

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/prefetch"
	"github.com/shmkit/shmkit/internal/ringx"
)

// MPMC batch claim: a producer with several messages at hand claims a run
// of slots with one CAS on enqueue, as LMAX Disruptor's multi-producer
// sequencer claims next(n), fills them, and publishes each with a
// release store of its sequence number, runChunk slots at a time once they
// are filled (so that a consumer caught up does not chase the fills line
// by line), waking parked consumers once for the run.
// Consumers read each slot's sequence number, Vyukov's way, so a run needs
// no published cursor of its own (a second shared line every consumer
// would read). A consumer takes a run the same way (GetBatchFunc): one CAS
// on dequeue for every filled slot up to its bound, a release store to
// empty each, one wake of parked producers.
//
// Room: before its CAS the producer makes Vyukov's test on every slot of
// the run (seq == pos: emptied for this lap) and cuts the run before the
// first that fails, and before WithLimit's bound (enqueue + n - dequeue):
// a claimed run never waits for a consumer of the previous lap, so a
// producer holds no claim while it blocks. Nobody else can have changed
// those slots between the test and the CAS: only the claimant of a
// position fills it, and the CAS proves nobody claimed past pos.
//
// Crash recovery: the run is recorded in the participant slot as enqClaim
// = pos+1 and enqClaimEnd = pos+n+1 (deqClaim and deqClaimEnd for a
// consumer; see claimRange for the order of the stores). A producer killed
// inside a run leaves the run's unpublished slots with seq == pos, which a
// consumer (rescueEmpty) or a producer at the limit (skipDeadHead)
// publishes in one pass (abandonDeadRun): those whose length the producer
// stored (filled) are delivered as any others, the rest skipped. A
// consumer killed inside a run leaves its slots not yet given back full,
// and the next consumer that finds the ring empty adopts the run and
// delivers, in order, those whose length the dead one had not reset
// (adoptDeadClaim, getClaimed). A participant slot is
// reused only when every position of its runs is resolved (claimsResolved,
// takePart).

// mpmcRunHook, when set (tests), is called by a run put before it fills
// slot i of n, and with i == n after the last publication, before the wake.
var mpmcRunHook func(i, n int)

// MaxRun is the most slots one claim of PutBatch, PutBatchFunc or
// GetBatchFunc takes; longer batches are claimed a run at a time.
const MaxRun = 256

// tryClaimRun claims up to k free slots (k >= 1) with one CAS on enqueue:
// n slots from pos, or n == 0 when the ring is full.
func (r *MPMC) tryClaimRun(ctx context.Context, k int) (pos uint64, n int, err error) {
	claim := r.parts.word(r.part, partOffEnqClaim)
	end := r.parts.word(r.part, partOffEnqClaimEnd)
	want := uint64(min(k, MaxRun))
	if err := r.mayCAS(ctx, &r.enqSole); err != nil { // (the sole claimer CASes a run: one CAS for many)
		return 0, 0, notNow(err)
	}
	pos = r.enq.Load()
	for {
		seq := r.seq(pos).Load() // observes: slot emptied (seq == pos)
		switch dif := int64(seq - pos); {
		case dif == 0:
			m := min(want, r.capacity)
			if r.limit < r.capacity {
				if m = r.limitRoom(pos, m); m == 0 {
					return 0, 0, nil // held at the limit (see tryClaimPut)
				}
			}
			r.prefetchRun(pos, m) // for the test below and the fills after it
			got := uint64(1)
			for got < m && r.seq(pos+got).Load() == pos+got { // observes: slot emptied for this lap
				got++
			}
			// Plain stores in this order (x86 keeps it; an XCHG each
			// would cost more than the run's fills).
			(*pubWord)(claim).storeRelease(0) // no claim while the range changes (see claimRange)
			(*pubWord)(end).storeRelease(pos + got + 1)
			(*pubWord)(claim).storeRelease(pos + 1) // the CAS after it is a full barrier on amd64
			if r.enq.CompareAndSwap(pos, pos+got) { // claims slots pos..pos+got-1 for filling
				r.prefetchRun(pos+got, want) // the next run's, ours or another producer's
				return pos, int(got), nil
			}
			claim.Store(0) // lost: see tryClaimPut; then the range, so that it never outlives its claim
			end.Store(0)
			pos = r.enq.Load()
		case dif == 1-int64(r.capacity) || dif == -int64(r.capacity):
			return 0, 0, nil // full (see tryClaimPut)
		case dif < 0:
			return 0, 0, fmt.Errorf("%w: ring %q slot %d seq %d at enqueue %d", ErrCorrupt, r.name, pos&r.mask, seq, pos)
		default:
			if pos, err = r.movedOn(r.enq, pos, seq, "enqueue"); err != nil {
				return 0, 0, err
			}
		}
	}
}

// fillRun fills and publishes the n slots claimed from pos, fill(i, slot)
// writing message i and returning its length, or a negative value to give
// the slot up (consumers skip it). It wakes parked consumers once. It
// returns how many slots it filled before the first given up; a fill that
// returns more than SlotBytes panics after the run is given up, so that no
// claimed slot is left behind. With fill nil it copies msgs[i] instead
// (PutBatch, which has checked their lengths): no call a message.
func (r *MPMC) fillRun(pos uint64, n int, fill func(i int, slot []byte) int, msgs [][]byte) int {
	hook := mpmcRunHook
	filled := n
	bad := -1
	pub := pos // the run's slots below it are published
	i := 0
	defer func() {
		if i < n { // fill panicked on slot i (a codec's bug that the caller recovers)
			r.giveUpRun(pos+uint64(i), pos+uint64(n), pub)
		}
	}()
	for ; i < n; i++ {
		p := pos + uint64(i)
		if p-pub >= runChunk { // a chunk filled: publish it
			pub = r.publishFilled(pub, p)
		}
		c := r.cell(p)
		if hook != nil {
			hook(i, n)
		}
		l := -1
		if fill == nil {
			l = memcopy.Copy(c[mSlotHeader:], msgs[i])
		} else if filled == n {
			l = fill(i, c[mSlotHeader:])
		}
		if l >= 0 && l <= r.slotBytes {
			storeRel32(u32(c, mSlotOffLen), uint32(l)) // the message is whole: a rescuer delivers it (see abandonDeadRun)
			continue
		}
		if l > r.slotBytes && bad < 0 {
			bad = l
		}
		filled = min(filled, i)
		// The length stays lenAbandoned: the slot is given up, skipped by consumers.
	}
	r.publishFilled(pub, pos+uint64(n))
	i = n // (the loop ends with it so, but a fill that panics does not)
	if hook != nil {
		hook(n, n)
	}
	r.data.wake()
	if bad >= 0 {
		panic(fmt.Sprintf("ringbuf: PutBatchFunc fill returned %d, slot holds %d", bad, r.slotBytes))
	}
	return filled
}

// giveUpRun publishes the rest of a run whose fill panicked at position
// from: the run's slots before from hold whole messages (delivered), from
// to end are given up (skipped), pub as fillRun's. Left claimed and
// unpublished, they held every consumer behind them for ever.
func (r *MPMC) giveUpRun(from, end, pub uint64) {
	for p := from; p < end; p++ {
		storeRel32(r.length(p), lenAbandoned)
	}
	r.publishFilled(pub, end)
	r.data.wake()
}

// cell returns the slot of position pos: its header (seq, length) and its
// payload of SlotBytes bytes.
func (r *MPMC) cell(pos uint64) []byte {
	off := (pos & r.mask) * r.stride
	return r.cells[off : off+mSlotHeader+uint64(r.slotBytes) : off+mSlotHeader+uint64(r.slotBytes)]
}

// TryPutBatchFunc claims as many free slots as are free now, up to k and
// MaxRun, with one CAS, lets fill(i, slot) write message i of the run in
// place and return its length (0..SlotBytes) or a negative value, and
// publishes the run (LMAX Disruptor's batch claim over Vyukov's slots).
// It returns how many messages it put: 0 when the ring is full (see
// TryPut); a negative
// return from fill gives up that slot and every later one of the run
// (consumers skip them: fill is not called for the rest), and the count
// stops before it. fill must not block or call the ring; one that panics
// gives up its slot and the rest of the run as a negative return does,
// before its panic goes on.
func (r *MPMC) TryPutBatchFunc(k int, fill func(i int, slot []byte) int) (int, error) {
	if k <= 0 {
		return 0, nil
	}
	if err := r.lockPut(noWait); err != nil {
		return 0, noSlotYet(err)
	}
	defer r.putMu.Unlock()
	pos, n, err := r.tryClaimRun(noWait, k)
	if n == 0 {
		return 0, err
	}
	return r.fillRun(pos, n, fill, nil), nil
}

// PutBatchFunc is TryPutBatchFunc that blocks, as Put does, until at
// least one slot is free: it puts as many messages as fit (at least one)
// and returns how many, or an error with none put. When fewer than k
// slots are free (up to a quarter of the ring) it first waits up to
// 20 µs (not once ctx is done) for the consumers to free that many,
// looking at the last slot of that room rather than at the one they are
// emptying: the hysteresis of Disruptor's next(n).
func (r *MPMC) PutBatchFunc(ctx context.Context, k int, fill func(i int, slot []byte) int) (int, error) {
	return r.putBatch(ctx, k, fill, nil)
}

// putBatch is PutBatchFunc, and PutBatch with fill nil and msgs (see
// fillRun).
func (r *MPMC) putBatch(ctx context.Context, k int, fill func(i int, slot []byte) int, msgs [][]byte) (int, error) {
	if k <= 0 {
		return 0, nil
	}
	if err := r.lockPut(ctx); err != nil {
		if err = r.awaitPart(ctx, err, roleProducer, &r.putMu); err != nil {
			return 0, err
		}
	}
	defer r.putMu.Unlock()
	slow := false
	g := ringx.NewRoomGate((*mpmcX)(r), min(k, MaxRun), int(r.limit))
	for {
		if g.Open() || ctx.Err() != nil { // done: what fits now, as PutFunc would
			pos, n, err := r.tryClaimRun(ctx, k)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				return r.fillRun(pos, n, fill, msgs), nil
			}
		}
		var err error
		if slow, err = r.awaitSpace(ctx, slow, &g); err != nil {
			return 0, err
		}
	}
}

// PutBatch copies msgs into free slots, as many as fit now (at least one,
// blocking for it as Put does), with one claim and one wake for the run,
// and returns how many it put. A message longer than SlotBytes ends the
// run before it; as the first of msgs it is ErrTooLarge, nothing put.
//
// It copies each message itself, where PutBatchFunc calls fill: the call
// a message cost about a seventh of the rate. Measured with one producer
// (64 B, AMD EPYC VM, M msgs/s): against a consumer process that took its
// runs directly, 71-81 through the call and 77-101 without (6 interleaved
// passes, a benchmark inside the package); BenchmarkProducers/mpmc-batch,
// 5 interleaved passes, medians 76.3 before and 84.0 after (with 4 and 8
// producers 72.6 / 68.4 before, 78.5 / 76.7 after).
func (r *MPMC) PutBatch(ctx context.Context, msgs [][]byte) (int, error) {
	k := len(msgs)
	for i, m := range msgs {
		if len(m) > r.slotBytes {
			if k = i; k == 0 {
				return 0, r.tooLarge(len(m))
			}
			break
		}
	}
	return r.putBatch(ctx, k, nil, msgs[:k])
}

// tryClaimGetRun claims up to k filled slots (k >= 1) with one CAS on
// dequeue: n slots from pos, or n == 0 when the ring is empty. The run is
// recorded as a range in the participant slot (deqClaim, deqClaimEnd), so
// that a consumer killed inside it leaves its unemptied slots to be
// adopted.
func (r *MPMC) tryClaimGetRun(ctx context.Context, k int) (pos uint64, n int, err error) {
	claim := r.parts.word(r.part, partOffDeqClaim)
	end := r.parts.word(r.part, partOffDeqClaimEnd)
	want := uint64(min(k, MaxRun))
	if err := r.mayCAS(ctx, &r.deqSole); err != nil {
		return 0, 0, notNow(err)
	}
	pos = r.deq.Load()
	for {
		seq := r.seq(pos).Load() // observes: slot filled (seq == pos+1)
		switch dif := int64(seq - (pos + 1)); {
		case dif == 0:
			got := uint64(1)
			for got < want && r.seq(pos+got).Load() == pos+got+1 { // observes: slot filled for this lap
				got++
			}
			// Only the slots found filled: asked for before the count, the
			// lines of slots a producer is still filling would be taken
			// from it.
			r.prefetchRun(pos, got)           // read, then written (emptied)
			(*pubWord)(claim).storeRelease(0) // no claim while the range changes (see claimRange)
			(*pubWord)(end).storeRelease(pos + got + 1)
			(*pubWord)(claim).storeRelease(pos + 1) // the CAS after it is a full barrier on amd64
			if r.deq.CompareAndSwap(pos, pos+got) { // claims slots pos..pos+got-1 for emptying
				return pos, int(got), nil
			}
			claim.Store(0) // lost: the slots are the winner's
			end.Store(0)
			pos = r.deq.Load()
		case dif == -1 || dif == -int64(r.capacity):
			return 0, 0, nil // empty (see tryClaimGet)
		case dif < 0:
			return 0, 0, fmt.Errorf("%w: ring %q slot %d seq %d at dequeue %d", ErrCorrupt, r.name, pos&r.mask, seq, pos)
		default:
			if pos, err = r.movedOn(r.deq, pos, seq, "dequeue"); err != nil {
				return 0, 0, err
			}
		}
	}
}

// emptyRun hands the messages of the n slots claimed from pos to use in
// order, giving each slot back after use, skips slots given up by dead
// producers, and wakes parked producers once. It returns how many messages
// it handed over; a slot with a corrupt length is given back unread and
// reported after the rest of the run.
func (r *MPMC) emptyRun(pos uint64, n int, use func(msg []byte)) (int, error) {
	hook := mpmcGetRunHook
	got := 0
	var err error
	rel := pos // the run's slots below it are given back
	p := pos
	defer func() {
		if p < pos+uint64(n) { // use panicked on slot p (a codec's bug that the caller recovers)
			r.keepRest(rel, p, pos+uint64(n))
		}
	}()
	for ; p < pos+uint64(n); p++ {
		if p-rel >= runChunk { // a chunk used: give it back
			rel = r.giveBack(rel, p)
		}
		c := r.cell(p)
		if hook != nil {
			hook(int(p-pos), n)
		}
		if l := u32(c, mSlotOffLen).Load(); l <= uint32(r.slotBytes) {
			use(c[mSlotHeader : mSlotHeader+l])
			got++
		} else if l == lenAbandoned {
			if r.givenUp != nil {
				r.givenUp(c[mSlotHeader:])
			}
		} else if err == nil {
			err = fmt.Errorf("%w: ring %q slot %d holds %d bytes, slots are %d", ErrCorrupt, r.name, p&r.mask, l, r.slotBytes)
		}
		storeRel32(u32(c, mSlotOffLen), lenAbandoned) // used: an adopter skips it (see nextAdopted's caller)
	}
	r.giveBack(rel, pos+uint64(n))
	r.space.wake()
	return got, err
}

// keepRest ends a run get whose use panicked on slot at: the slots from
// rel to at, used, and at itself (consumed, as by a decoding error) are
// given back, and the rest of the run, at+1 to end, becomes this handle's
// adopted run (see nextAdopted), which its claim words still cover and
// its next Get delivers first. Given back, those messages were lost;
// left claimed, producers waited on their slots for ever.
func (r *MPMC) keepRest(rel, at, end uint64) {
	storeRel32(r.length(at), lenAbandoned)
	r.giveBack(rel, at+1)
	r.adoptNext, r.adoptEnd = at+1, end
	r.space.wake()
}

// mpmcGetRunHook, when set (tests), is called by a run get before it
// empties slot i of n.
var mpmcGetRunHook func(i, n int)

// tryGetRun claims a run of up to k messages and hands them to use: an
// adopted message alone first (see getClaimed), else a run (ctx as
// tryClaimPut's).
func (r *MPMC) tryGetRun(ctx context.Context, k int, use func(msg []byte)) (int, error) {
	for {
		if r.adoptNext < r.adoptEnd || r.adoptDue.Load() {
			pos, n, ok, err := r.getClaimed(ctx)
			if ok {
				r.useOne(pos, n, use)
				return 1, nil
			}
			if err != nil {
				return 0, err
			}
		}
		pos, n, err := r.tryClaimGetRun(ctx, k)
		if n == 0 {
			return 0, err
		}
		got, err := r.emptyRun(pos, n, use)
		if got > 0 || err != nil {
			return got, err
		}
		// A run of slots given up by dead producers only: claim again.
	}
}

// TryGetBatchFunc claims as many filled slots as there are now, up to k
// and MaxRun, with one CAS on dequeue, hands their messages to use in
// order, in place, and gives the slots back with one wake for the run
// (the consumer side of LMAX Disruptor's batching: a consumer takes every
// published sequence up to the highest available at once). It returns how
// many messages it handed over: 0 when the ring is empty (see TryGet). use must not
// keep msg, block, or call the ring; one that panics consumes its message,
// and the handle's next Gets deliver the rest of the run first.
func (r *MPMC) TryGetBatchFunc(k int, use func(msg []byte)) (int, error) {
	if k <= 0 {
		return 0, nil
	}
	if err := r.lockGet(noWait); err != nil {
		return 0, noSlotYet(err)
	}
	defer r.getMu.Unlock()
	return r.tryGetRun(noWait, k, use)
}

// GetBatchFunc is TryGetBatchFunc that blocks, as Get does, until there
// is at least one message: it hands over as many as there are now (at
// least one, at most k) and returns how many.
func (r *MPMC) GetBatchFunc(ctx context.Context, k int, use func(msg []byte)) (int, error) {
	if k <= 0 {
		return 0, nil
	}
	if err := r.lockGet(ctx); err != nil {
		if err = r.awaitPart(ctx, err, roleConsumer, &r.getMu); err != nil {
			return 0, err
		}
	}
	defer r.getMu.Unlock()
	slow := false
	var g ringx.DataGate // set once the ring is found empty
	for {
		n, err := r.tryGetRun(ctx, k, use)
		if n > 0 || err != nil {
			r.streaming = g == (ringx.DataGate{}) // found at once
			return n, err
		}
		if slow, err = r.awaitData(ctx, slow, &g, k); err != nil {
			return 0, err
		}
	}
}

// movedOn is a claim's answer to a slot whose seq is ahead of its
// position: the counter (what: enqueue or dequeue) has moved on since it
// was read, so go on from where it is now; if it has not, the slot is
// corrupt.
func (r *MPMC) movedOn(ctr *atomic.Uint64, pos, seq uint64, what string) (uint64, error) {
	p2 := ctr.Load()
	if p2 == pos {
		return 0, fmt.Errorf("%w: ring %q slot %d seq %d ahead of %s %d", ErrCorrupt, r.name, pos&r.mask, seq, what, pos)
	}
	return p2, nil
}

// publishFilled hands the filled (or given-up) slots [lo, hi) of a run to
// consumers and returns hi.
func (r *MPMC) publishFilled(lo, hi uint64) uint64 {
	for p := lo; p < hi; p++ {
		(*pubWord)(r.seq(p)).storeRelease(p + 1) // publishes: slot filled (or given up), length and payload before it
	}
	return hi
}

// giveBack hands the used slots [lo, hi) of a run back to producers for
// their next lap and returns hi.
func (r *MPMC) giveBack(lo, hi uint64) uint64 {
	for p := lo; p < hi; p++ {
		(*pubWord)(r.seq(p)).storeRelease(p + r.capacity) // publishes: slot emptied (our reads of it came before)
	}
	return hi
}

// runChunk is how many slots of a run are filled (or used) before their
// seq words are stored, a chunk at a time: published slot by slot as each
// was written, a run was chased by a consumer caught up, which read each
// slot's line while the producer still wrote the next slot on it; published
// only once the whole run was written, it kept consumers idle while a long
// run was filled (BenchmarkProducers/mpmc-batch with 3 and 8 producers,
// the VM in its fast state: 24 and 19 M msgs/s against 60 and 56 slot by
// slot), where chunks of 8 (640 B of 64-byte slots) gave 48-49 M; in the
// slow state chunks of 8 and whole runs did alike, 2x slot by slot.
const runChunk = 8

// prefetchRun asks for the lines of the n slots from pos (at most the
// ring) for writing: a hint, see prefetch.Write.
func (r *MPMC) prefetchRun(pos, n uint64) {
	size := min(n, r.capacity) * r.stride
	off := (pos & r.mask) * r.stride
	k := min(size, uint64(len(r.cells))-off)
	prefetch.Write(unsafe.Pointer(&r.cells[off]), int(k))
	if size > k {
		prefetch.Write(unsafe.Pointer(&r.cells[0]), int(size-k))
	}
}
