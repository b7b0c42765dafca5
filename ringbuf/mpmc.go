package ringbuf

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/prefetch"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/shm"
)

// MPMC is a bounded many-producer many-consumer ring of fixed-size slots in
// shared memory: Vyukov's bounded MPMC queue, each slot carrying a sequence
// number that says whose turn it is. A message is up to SlotBytes bytes.
// Producers and consumers may be in any number of processes. A handle
// serialises its own Puts (and its own Gets) so that each handle has one
// claim to publish for crash recovery; open one handle per goroutine to
// work in parallel within a process. Each handle takes one participant slot
// (WithProducers) on first use; where every slot is held and only a dead
// participant's can free up, a blocking call waits for it (see takePart).
// An MPMC must not be copied; pass it to a worker process as a handle (it
// implements gob.GobEncoder).
type MPMC struct {
	_         noCopy
	seg       *shm.Segment
	name      string
	body      []byte
	cells     []byte
	capacity  uint64
	limit     uint64 // messages held at most (config; capacity when unset)
	mask      uint64
	slotBytes int
	stride    uint64
	parts     slotTable
	opt       options
	closed    atomic.Bool
	ownSeg    bool // GobDecode attached seg: Close closes it

	enq, deq                     *atomic.Uint64
	producersEver, consumersEver *atomic.Uint32

	attachMu sync.Mutex
	part     int           // participant slot; -1 before first use (guarded by attachMu)
	role     atomic.Uint32 // roles taken so far (written under attachMu)
	closing  chan struct{} // closed by Close: ends a wait for a participant slot
	adoptDue atomic.Bool   // a dead consumer's claim may wait for adoption (set by rescueEmpty)

	// adoptNext..adoptEnd are the positions of a dead consumer's run
	// claim that this handle adopted and has not delivered yet (guarded by
	// getMu; set by attach, before the handle has a role, for a claim it
	// took over with the slot: see inherit): its dequeue claim words hold
	// that run until they are.
	adoptNext, adoptEnd uint64
	// streaming: this handle's last Get found its message without
	// waiting, so its next wait waits for a run (see ringx.DataGate);
	// guarded by getMu.
	streaming bool
	// behind: this handle's takes of one message, which keep a
	// distance from a stream's producers (see keepBehind); guarded by
	// getMu.
	behind ringx.Behind
	// givenUp runs on the payload of each given-up slot the consumer side
	// skips (ringx.MPMC.OnGivenUp); nil for none. Set before the first
	// Get.
	givenUp func(payload []byte)

	_       [cacheLine]byte
	putMu   handleLock // serialises this handle's producer goroutines, Put to publication
	enqSole soleSide   // the producers' sole claimer (see sole.go); guarded by putMu
	space   waitSide
	// deqSeen is a dequeue position this handle read before (guarded by
	// putMu). Dequeue only grows, so a claim that is within WithLimit's
	// bound by this one is within it by the real one, and the limit
	// check reads dequeue, a line every Get writes, only when this one
	// says the ring is at its limit (a limit of 1024 in a ring of 4096
	// 112-byte slots, one producer: 8 M msgs/s reading it on every
	// claim, against 23 M for the ring without a limit).
	deqSeen uint64
	// ahead is how many slots past its claim a producer asks for a
	// slot's lines for writing (putAhead); 0 for a ring too small.
	ahead   uint64
	_       [cacheLine]byte
	getMu   handleLock // serialises this handle's consumer goroutines, Get to release
	deqSole soleSide   // the consumers' sole claimer; guarded by getMu
	data    waitSide
	_       [cacheLine]byte
}

// checkMPMC refuses the geometry of an MPMC ring that NewMPMC cannot
// make: capacity slots of slotBytes, parts participant slots, held to
// limit messages (0: capacity).
func checkMPMC(capacity, slotBytes, parts, limit int) error {
	if capacity < 2 || capacity > MaxCapacity || !isPow2(uint64(capacity)) {
		return fmt.Errorf("%w: capacity %d is not a power of two in [2, %d]", ErrInvalid, capacity, MaxCapacity)
	}
	if slotBytes < 0 || slotBytes > MaxSlotBytes {
		return fmt.Errorf("%w: slot of %d bytes, want 0..%d", ErrInvalid, slotBytes, MaxSlotBytes)
	}
	if parts < 1 || parts > MaxProducers {
		return fmt.Errorf("%w: %d participant slots, want 1..%d", ErrInvalid, parts, MaxProducers)
	}
	if limit < 0 || limit > capacity {
		return fmt.Errorf("%w: limit %d, want 0..%d", ErrInvalid, limit, capacity)
	}
	if size := uint64(mOffParts0) + uint64(parts)*slotSize + uint64(capacity)*uint64(mpmcStride(slotBytes)); size > 1<<40 {
		return fmt.Errorf("%w: %d slots of %d bytes", ErrInvalid, capacity, slotBytes)
	}
	return nil
}

// NewMPMC creates an MPMC ring called name in seg with capacity slots (a
// power of two, 2..MaxCapacity) of slotBytes bytes each.
func NewMPMC(seg *shm.Segment, name string, capacity, slotBytes int, opts ...Option) (*MPMC, error) {
	o := defaultOptions()
	o.slots = DefaultProducers
	for _, f := range opts {
		f.apply(&o)
	}
	if err := checkMPMC(capacity, slotBytes, o.slots, o.limit); err != nil {
		return nil, err
	}
	spec := shm.ObjectSpec{Kind: shm.KindMPMC, Version: mpmcVersion, Capacity: uint64(capacity), BodySize: mpmcBodySize(capacity, slotBytes, o.slots)}
	obj, err := seg.Alloc(name, spec, func(body []byte) error {
		le.PutUint64(body[mOffCapacity:], uint64(capacity))
		le.PutUint32(body[mOffSlotBytes:], uint32(slotBytes))
		le.PutUint32(body[mOffStride:], uint32(mpmcStride(slotBytes)))
		le.PutUint32(body[mOffParts:], uint32(o.slots))
		le.PutUint64(body[mOffLimit:], uint64(o.limit))
		cells := body[mOffParts0+o.slots*slotSize:]
		for i := 0; i < capacity; i++ {
			le.PutUint64(cells[i*mpmcStride(slotBytes)+mSlotOffSeq:], uint64(i))    // slot i: free for position i
			le.PutUint32(cells[i*mpmcStride(slotBytes)+mSlotOffLen:], lenAbandoned) // and no length yet (see abandonDeadRun)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := new(MPMC)
	if err := r.init(seg, obj, o); err != nil {
		return nil, err // no half-built handle
	}
	return r, nil
}

// OpenMPMC opens the MPMC ring called name in seg.
func OpenMPMC(seg *shm.Segment, name string, opts ...Option) (*MPMC, error) {
	o := defaultOptions()
	for _, f := range opts {
		f.apply(&o)
	}
	obj, err := seg.Lookup(name, &shm.ObjectSpec{Kind: shm.KindMPMC, Version: mpmcVersion})
	if err != nil {
		return nil, err
	}
	r := new(MPMC)
	if err := r.init(seg, obj, o); err != nil {
		return nil, err // no half-built handle
	}
	return r, nil
}

func (r *MPMC) init(seg *shm.Segment, obj *shm.Object, o options) error {
	body := obj.Body
	if err := mapCheck(body); err != nil {
		return err
	}
	capacity, slotBytes, parts, err := checkMPMCConfig(body)
	if err != nil {
		return fmt.Errorf("ring %q: %w", obj.Name, err)
	}
	r.seg, r.name, r.body, r.opt = seg, obj.Name, body, o
	r.capacity, r.mask, r.slotBytes, r.stride = uint64(capacity), uint64(capacity-1), slotBytes, uint64(mpmcStride(slotBytes))
	r.limit = le.Uint64(body[mOffLimit:]) // checked by checkMPMCConfig
	if r.limit == 0 {
		r.limit = r.capacity
	}
	r.parts = slotTable{mem: body[mOffParts0 : mOffParts0+parts*slotSize], n: parts}
	off := mOffParts0 + parts*slotSize
	r.cells = body[off : off+capacity*int(r.stride) : off+capacity*int(r.stride)]
	r.ahead = putAheadSlots(r.capacity, r.stride)
	r.enq, r.deq = u64(body, mOffEnqueue), u64(body, mOffDequeue)
	r.enqSole = soleSide{mode: u64(body, mOffEnqSole), pos: r.enq, claimOff: partOffEnqClaim}
	r.deqSole = soleSide{mode: u64(body, mOffDeqSole), pos: r.deq, claimOff: partOffDeqClaim}
	membarrier.Registered() // starts the registration a sole claimer needs (see sole.go)
	r.producersEver, r.consumersEver = u32(body, mOffProducersEver), u32(body, mOffConsumersEver)
	r.part = -1
	r.closing = make(chan struct{})
	r.data.init(u32(body, mOffDataSeq), u32(body, mOffDataWaiters), u32(body, mOffDataParked), &r.opt)
	r.space.init(u32(body, mOffSpaceSeq), u32(body, mOffSpaceWaiters), u32(body, mOffSpaceParked), &r.opt)
	r.data.holder, r.space.holder = &r.getMu, &r.putMu
	return nil
}

// Cap returns the number of slots.
func (r *MPMC) Cap() int { return int(r.capacity) }

// SlotBytes returns the largest message a slot holds.
func (r *MPMC) SlotBytes() int { return r.slotBytes }

// Name returns the ring's object name in its segment.
func (r *MPMC) Name() string { return r.name }

// Len returns the number of filled or claimed slots, a snapshot; 0 once
// the handle is closed.
func (r *MPMC) Len() int {
	if r.closed.Load() { // a decoded handle's mapping is gone
		return 0
	}
	// Every claim keeps enqueue within WithLimit's bound of dequeue (and
	// dequeue is read after enqueue), so more is corrupt memory.
	return inUse(r.enq.Load(), r.deq.Load(), r.limit)
}

// SetOptions changes the handle's wait strategy, spin count or poll period.
// Do not call it while a call on the handle is blocked.
func (r *MPMC) SetOptions(opts ...Option) {
	r.opt.apply(opts, &r.data, &r.space)
}

func (r *MPMC) seq(pos uint64) *atomic.Uint64 {
	return u64(r.cells, (pos&r.mask)*r.stride+mSlotOffSeq)
}

func (r *MPMC) length(pos uint64) *atomic.Uint32 {
	return u32(r.cells, (pos&r.mask)*r.stride+mSlotOffLen)
}

func (r *MPMC) payload(pos uint64) []byte {
	off := (pos&r.mask)*r.stride + mSlotHeader
	return r.cells[off : off+uint64(r.slotBytes) : off+uint64(r.slotBytes)]
}

// attach takes a participant slot on first use and records the role. It
// returns errSlotPending or errSlotOrphaned, unwrapped, when no slot can be
// taken now but a dead participant's may free up (see takePart): the
// blocking calls wait (awaitPart), Try calls report that nothing was done.
func (r *MPMC) attach(role uint32) error {
	if r.closed.Load() {
		return ErrClosed
	}
	r.attachMu.Lock()
	defer r.attachMu.Unlock()
	if r.closed.Load() {
		return ErrClosed // Close ran meanwhile: no slot for it to miss, no mapping to trust
	}
	if r.role.Load()&role != 0 {
		return nil
	}
	if r.part < 0 {
		i := r.adoptHandoff()
		inherited := false
		if i < 0 {
			var err error
			if i, inherited, err = r.takePart(role); err == errSlotPending || err == errSlotOrphaned {
				return err
			} else if err != nil {
				return fmt.Errorf("ring %q: %w", r.name, err)
			}
		}
		r.parts.word32(i, partOffRole).Store(0)
		r.parts.word(i, partOffEnqClaim).Store(0) // no claim, before its range goes
		r.parts.word(i, partOffEnqClaimEnd).Store(0)
		if !inherited { // else the dead consumer's claim is this handle's now
			r.parts.word(i, partOffDeqClaim).Store(0)
			r.parts.word(i, partOffDeqClaimEnd).Store(0)
		}
		r.part = i
		tok := soleToken(i, r.parts.gen(i).Load())
		r.enqSole.tok, r.deqSole.tok = tok, tok // read under putMu or getMu, after role says attached
	}
	r.parts.word32(r.part, partOffRole).Or(role)
	r.role.Or(role)
	if role == roleProducer {
		r.producersEver.Add(1)
	} else {
		r.consumersEver.Add(1)
	}
	return nil
}

// lockPut attaches the handle as a producer if it is not one yet and takes
// its producer lock for a call under ctx (noWait for a Try call), or
// returns why it did not (see handleLock.LockCall). ErrClosed once Close
// has begun: Close frees the participant slot under that lock, so a call
// that finds the handle open while holding it keeps its slot until it
// returns.
func (r *MPMC) lockPut(ctx context.Context) error { return r.lockRole(ctx, roleProducer, &r.putMu) }

// lockGet is lockPut for consumers.
func (r *MPMC) lockGet(ctx context.Context) error { return r.lockRole(ctx, roleConsumer, &r.getMu) }

func (r *MPMC) lockRole(ctx context.Context, role uint32, mu *handleLock) error {
	if r.role.Load()&role == 0 {
		if err := r.attach(role); err != nil {
			return err
		}
	}
	return r.lockOpen(ctx, mu)
}

// noSlotYet is what a Try call reports for lockPut's or lockGet's error:
// nothing (ok false: no room, or no message, now) while the participant
// slot it needs is not yet free (errSlotPending, errSlotOrphaned), or while
// another goroutine's call waits for the ring holding the lock
// (errWouldBlock).
func noSlotYet(err error) error {
	if err == errSlotPending || err == errSlotOrphaned || err == errWouldBlock {
		return nil
	}
	return err
}

// lockAttached takes mu for a handle that has role already and is not
// closed (Close takes mu before it gives the slot up), as a Try call; it
// reports false, holding nothing, otherwise.
func (r *MPMC) lockAttached(role uint32, mu *handleLock) bool {
	return r.role.Load()&role != 0 && r.lockOpen(noWait, mu) == nil
}

// lockOpen takes mu for a call under ctx (see handleLock.LockCall), or
// returns why it did not: ErrClosed once Close has begun (it then
// releases mu again).
func (r *MPMC) lockOpen(ctx context.Context, mu *handleLock) error {
	if err := mu.LockCall(ctx); err != nil {
		return err
	}
	if r.closed.Load() {
		mu.Unlock()
		return ErrClosed
	}
	return nil
}

// AttachProducer takes this handle's participant slot as a producer now
// rather than on its first Put; see SPSC.AttachProducer for why a creator
// may hold one while producer processes start. It does not wait: where
// only a dead participant's slot may free up it returns ErrBusy, or
// ErrPeerDead where no live participant can free one (see takePart).
func (r *MPMC) AttachProducer() error { return r.attachNow(roleProducer) }

// AttachConsumer takes this handle's participant slot as a consumer now
// rather than on its first Get (taking over a dead consumer's messages
// with its slot where that is the one to take: see inherit). It does not
// wait: ErrBusy where only a dead participant's slot may free up.
func (r *MPMC) AttachConsumer() error { return r.attachNow(roleConsumer) }

func (r *MPMC) attachNow(role uint32) error {
	switch err := r.attach(role); err {
	case errSlotPending:
		return fmt.Errorf("%w: ring %q has no participant slot free yet (a dead participant's claims are not yet resolved)", ErrBusy, r.name)
	case errSlotOrphaned:
		return r.orphaned()
	default:
		return err
	}
}

// adoptHandoff takes the participant slot a parent reserved for this
// process when it handed the ring over (role roleHandoff, owner this
// process): the first handle to attach here makes it its own. -1 when
// there is none.
func (r *MPMC) adoptHandoff() int {
	me := procinfo.Self().Word()
	for i := 0; i < r.parts.n; i++ {
		if r.parts.owner(i).Load() == me && r.parts.word32(i, partOffRole).CompareAndSwap(roleHandoff, 0) { // reserved for me -> mine
			r.parts.gen(i).Add(1)
			return i
		}
	}
	return -1
}

// reserve holds a participant slot for a child process that this ring is
// being handed to (package handoff): until the child attaches, the slot
// counts it as a possible producer and consumer.
func (r *MPMC) reserve() {
	standIn := procinfo.HandoffWord(procinfo.Self().Word())
	for i := 0; i < r.parts.n; i++ {
		w := r.parts.owner(i).Load()
		if (w != 0 && procinfo.AliveWord(w)) || !r.claimsResolved(i) {
			continue // a free slot too may hold claims (see takePart)
		}
		if !r.parts.owner(i).CompareAndSwap(w, standIn) { // free or dead -> stand-in
			continue
		}
		r.parts.word(i, partOffEnqClaim).Store(0)
		r.parts.word(i, partOffEnqClaimEnd).Store(0)
		r.parts.word(i, partOffDeqClaim).Store(0)
		r.parts.word(i, partOffDeqClaimEnd).Store(0)
		r.parts.word32(i, partOffRole).Store(roleHandoff)
		handoff.Add(handoff.Slot{Word: r.parts.owner(i), StandIn: standIn})
		return
	}
	// Every slot is held: the child goes unrecorded until it attaches.
}

// takePart attaches this process to a participant slot for role, as
// slotTable.take does, but takes a free slot too only when its claims are
// resolved: a handle that closed while it still had messages of an
// adopted consumer run to deliver leaves them in its claim words, for the
// next consumer that finds the ring empty to adopt (a free slot's holder
// counts as gone), and a newcomer must not wipe them. inherited reports a
// slot taken with such a claim (see inherit).
//
// A slot of a dead (or departed) participant whose claims are not
// resolved is resolved here where this process can do it, and otherwise
// waited for (errSlotPending) while a live participant can:
//
//   - A slot its producer claimed and never filled (an enqueue claim
//     won, seq still its position) is given up now, as a consumer would
//     once it reached it (giveUpDeadPuts): nobody will ever fill it, and
//     consumers skip it. A position the claim words cover that a live
//     producer won (the dead one's claim was a loser's, stored before a
//     CAS it lost or never made) is that producer's to fill: it
//     publishes it, or dies and it is given up at the next look.
//   - Messages a dead consumer claimed and had not given back must reach
//     a consumer exactly once. A consumer taking a slot takes them over
//     with it (inherit), unless a live consumer is at them (an adopter,
//     or the owner of positions a stale range covers), which resolves
//     them. A producer waits for a live consumer to adopt them (it does
//     when it finds the ring empty) or for the live owner to give them
//     back; where no participant alive consumes (or may: a slot reserved
//     for a child counts) and none holds them, nothing can, and it gets
//     errSlotOrphaned: its blocking call returns ErrPeerDead, as a Put on
//     a full ring whose consumers are all dead does.
//
// A slot held by a live participant is never waited for: with no slot
// but theirs it is ErrBusy at once, as before.
func (r *MPMC) takePart(role uint32) (i int, inherited bool, err error) {
	me := procinfo.Self().Word()
	pending, orphaned := false, false
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < r.parts.n; i++ {
			w := r.parts.owner(i).Load()
			if (pass == 0) != (w == 0) || w == me || (w != 0 && procinfo.AliveWord(w)) {
				continue // pass 0: free slots; pass 1: slots of dead owners
			}
			if !r.enqResolved(i) {
				r.giveUpDeadPuts(i)
				if !r.enqResolved(i) {
					pending = true // a live producer fills what the claim covers
					continue
				}
			}
			if !r.deqResolved(i) {
				switch {
				case role == roleConsumer && r.inherit(i, w):
					return i, true, nil
				case role == roleConsumer || r.deqClaimLive(i):
					pending = true
				default:
					orphaned = true
				}
				continue
			}
			if r.parts.owner(i).CompareAndSwap(w, me) { // free or dead owner's -> mine
				r.parts.gen(i).Add(1)
				return i, false, nil
			}
		}
	}
	switch {
	case pending:
		return -1, false, errSlotPending
	case orphaned:
		return -1, false, errSlotOrphaned
	}
	return -1, false, fmt.Errorf("%w: all %d slots are held", ErrBusy, r.parts.n)
}

// claimsResolved reports whether participant i left no slot claimed but
// unfinished, so that a successor may take its slot.
func (r *MPMC) claimsResolved(i int) bool { return r.enqResolved(i) && r.deqResolved(i) }

// enqResolved reports whether participant i's enqueue claim holds no
// position claimed and not yet filled.
func (r *MPMC) enqResolved(i int) bool {
	lo, hi, ok, torn := r.enqRange(i)
	if torn {
		return false
	}
	for pos := lo; ok && pos < hi; pos++ {
		if r.enq.Load() > pos && r.seq(pos).Load() == pos {
			return false
		}
	}
	return true
}

// deqResolved reports whether participant i's dequeue claim holds no
// message not yet given back.
func (r *MPMC) deqResolved(i int) bool {
	lo, hi, ok, torn := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
	return !torn && (!ok || !r.unreleased(lo, hi))
}

// unreleased reports whether a position of the dequeue claim [lo, hi)
// still holds the message of its lap (claimed, not yet emptied).
func (r *MPMC) unreleased(lo, hi uint64) bool {
	for pos := lo; pos < hi; pos++ {
		if r.deq.Load() > pos && r.seq(pos).Load() == pos+1 {
			return true
		}
	}
	return false
}

// tryClaimPut claims the next free slot: Vyukov's enqueue, or, for the
// producers' sole claimer, its plain form (see sole.go). ctx is a blocking
// call's, noWait for one that does not wait: only a join waits (see join).
func (r *MPMC) tryClaimPut(ctx context.Context) (pos uint64, ok bool, err error) {
	claim := r.parts.word(r.part, partOffEnqClaim)
	if r.enqSole.own {
		if pos, ok := r.soleClaimPut(claim); ok {
			return pos, true, nil
		}
	} else if err := r.mayCAS(ctx, &r.enqSole); err != nil {
		return 0, false, notNow(err)
	}
	pos = r.enq.Load()
	for {
		seq := r.seq(pos).Load() // observes: slot emptied (seq == pos)
		switch dif := int64(seq - pos); {
		case dif == 0 && r.limit < r.capacity && r.limitRoom(pos, 1) < 1:
			// Held at the limit: deq only grows, so the ring cannot be
			// over it once this claim is made with a fresher deq.
			return 0, false, nil
		case dif == 0:
			(*pubWord)(claim).storeRelease(pos + 1) // the CAS after it is a full barrier on amd64
			if r.enq.CompareAndSwap(pos, pos+1) {   // claims slot pos for filling
				if r.ahead != 0 {
					r.prefetchSlot(pos + r.ahead)
				}
				return pos, true, nil
			}
			claim.Store(0) // lost: a stale claim of a live loser would keep a dead winner's slot from being given up
			pos = r.enq.Load()
		case dif == 1-int64(r.capacity) || dif == -int64(r.capacity):
			// Full: the slot's previous lap is filled and not yet emptied
			// (seq pos-capacity+1), or still being filled (seq pos-capacity).
			return 0, false, nil
		case dif < 0:
			return 0, false, fmt.Errorf("%w: ring %q slot %d seq %d at enqueue %d", ErrCorrupt, r.name, pos&r.mask, seq, pos)
		default:
			if pos, err = r.movedOn(r.enq, pos, seq, "enqueue"); err != nil {
				return 0, false, err
			}
		}
	}
}

// soleClaimPut is tryClaimPut's claim for the producers' sole claimer
// (see sole.go): a plain store moves enqueue once the claim is stored and
// the side still found its own. It reports false, having claimed nothing,
// when the slot is not free (the ring full, held at its limit, or
// corrupt: the general path says which), when the handle is no longer
// the sole claimer, and while this process is not registered for
// membarrier's fence.
func (r *MPMC) soleClaimPut(claim *atomic.Uint64) (uint64, bool) {
	if !membarrier.Registered() {
		return 0, false // not yet: no fence reaches this process (see sole.go)
	}
	pos := r.enq.Load()
	if r.seq(pos).Load() != pos || r.limit < r.capacity && r.limitRoom(pos, 1) < 1 { // observes: slot emptied
		return 0, false
	}
	(*pubWord)(claim).storeRelease(pos + 1)
	if !r.enqSole.mine() {
		claim.Store(0) // claimed nothing: left at the position + 1, the joiner (and this handle's own join) waited on it for ever
		return 0, false
	}
	if soleWindowHook != nil {
		soleWindowHook()
	}
	atomics.StoreRelease64(r.enq, pos+1) // claims slot pos for filling
	if r.ahead != 0 {
		r.prefetchSlot(pos + r.ahead)
	}
	return pos, true
}

// putAhead is how far past its claim, in bytes of slots, a producer asks
// for a slot's lines for writing (PREFETCHW): the consumer emptied that
// slot a lap ago and holds its lines, and a store to a line another core
// holds waits in the store buffer until the line comes, where the next
// locked instruction (the next claim's CAS) waits for it. Fetched 32 KiB
// ahead, the lines are at hand when the producer gets there. Queues of
// 64-byte messages (slots of 128 bytes), one producer Put at a time, 3
// interleaved passes (floor 214-313 ns): Stream64/queue/default (2048
// slots) 19.2-23.8 -> 29.1-32.6 M msgs/s, MaxSize 4096 (4096 slots)
// 21.0-23.4 -> 25.4-27.9; a round trip through two default queues, p50
// 456-514 -> 407-467 ns. (A run claim, tryClaimRun, does not come here:
// it prefetches the next run itself, and PutBatch's figures are not this
// hint's.) Asked 2 to 8 KiB ahead the streams gained as much, but a
// round trip through a small ring (256 slots) lost 40-90 ns of p50, and
// nothing explained it; a ring of at most twice the distance
// (putAheadSlots) makes no prefetch, so that round trip is as before.
// Where the ring is nearly full the slot ahead may still hold a message
// to be read, and a ring held to its capacity is filled right behind its
// consumer: a queue of 4096 slots held to 4096 gained a quarter where one
// of 2048 held to 1024 gained half, and a queue's ring therefore gets
// slots to spare (queue's spareRingBytes). Only the slot's first two
// lines are asked for: a larger slot's payload is a sequential copy that
// the hardware's own prefetch follows.
const putAhead = 32 << 10

// putAheadSlots is putAhead in slots of stride bytes for a ring of
// capacity slots: 0 (no prefetch) unless it is under half the ring.
func putAheadSlots(capacity, stride uint64) uint64 {
	ahead := max(putAhead/stride, 1)
	if 2*ahead >= capacity {
		return 0
	}
	return ahead
}

// prefetchSlot asks for the first lines of slot pos (at most 2) for
// writing: a hint, see prefetch.Write.
func (r *MPMC) prefetchSlot(pos uint64) {
	off := (pos & r.mask) * r.stride
	prefetch.Write(unsafe.Pointer(&r.cells[off]), int(min(r.stride, 2*cacheLine)))
}

// publishPut fills in the length and hands slot pos to consumers.
func (r *MPMC) publishPut(pos uint64, n int) {
	storeRel32(r.length(pos), uint32(n))
	(*pubWord)(r.seq(pos)).storeRelease(pos + 1) // publishes: slot filled, length and payload before it
	r.data.wake()
}

// tryClaimGet claims the next filled slot: Vyukov's dequeue, or, for the
// consumers' sole claimer, its plain form (ctx as tryClaimPut's).
func (r *MPMC) tryClaimGet(ctx context.Context) (pos uint64, ok bool, err error) {
	claim := r.parts.word(r.part, partOffDeqClaim)
	if r.deqSole.own {
		if pos, ok := r.soleClaimGet(claim); ok {
			return pos, true, nil
		}
	} else if err := r.mayCAS(ctx, &r.deqSole); err != nil {
		return 0, false, notNow(err)
	}
	pos = r.deq.Load()
	for {
		seq := r.seq(pos).Load() // observes: slot filled (seq == pos+1)
		switch dif := int64(seq - (pos + 1)); {
		case dif == 0:
			(*pubWord)(claim).storeRelease(pos + 1) // the CAS after it is a full barrier on amd64
			if r.deq.CompareAndSwap(pos, pos+1) {   // claims slot pos for emptying
				return pos, true, nil
			}
			claim.Store(0) // lost: the slot is the winner's, never this handle's to be adopted from
			pos = r.deq.Load()
		case dif == -1 || dif == -int64(r.capacity):
			// Empty: the slot is free for (or being filled by) the producer
			// of pos (seq pos), or its previous lap is still being emptied
			// (seq pos-capacity+1).
			return 0, false, nil
		case dif < 0:
			return 0, false, fmt.Errorf("%w: ring %q slot %d seq %d at dequeue %d", ErrCorrupt, r.name, pos&r.mask, seq, pos)
		default:
			if pos, err = r.movedOn(r.deq, pos, seq, "dequeue"); err != nil {
				return 0, false, err
			}
		}
	}
}

// soleClaimGet is soleClaimPut for the consumers' sole claimer.
func (r *MPMC) soleClaimGet(claim *atomic.Uint64) (uint64, bool) {
	if !membarrier.Registered() {
		return 0, false
	}
	pos := r.deq.Load()
	if r.seq(pos).Load() != pos+1 { // observes: slot filled
		return 0, false
	}
	(*pubWord)(claim).storeRelease(pos + 1)
	if !r.deqSole.mine() {
		claim.Store(0) // claimed nothing (see soleClaimPut)
		return 0, false
	}
	if soleWindowHook != nil {
		soleWindowHook()
	}
	atomics.StoreRelease64(r.deq, pos+1) // claims slot pos for emptying
	return pos, true
}

// releaseGet hands slot pos back to producers for the next lap, its
// length reset to lenAbandoned (see abandonDeadRun).
func (r *MPMC) releaseGet(pos uint64) {
	storeRel32(r.length(pos), lenAbandoned)
	(*pubWord)(r.seq(pos)).storeRelease(pos + r.capacity) // publishes: slot emptied (our reads of it came before)
	r.space.wake()
}

// skipGivenUp gives back slot pos, which this handle claimed and found
// given up, after givenUp has seen its payload.
func (r *MPMC) skipGivenUp(pos uint64) {
	if r.givenUp != nil {
		r.givenUp(r.payload(pos))
	}
	r.releaseGet(pos)
}

// getClaimed claims the next filled slot that holds a message, giving back
// slots abandoned by dead producers, and checks its length. On an empty
// ring it adopts a message claimed by a dead consumer, once rescueEmpty has
// seen one. ctx as tryClaimPut's.
func (r *MPMC) getClaimed(ctx context.Context) (pos uint64, n int, ok bool, err error) {
	for {
		pos, ok = r.nextAdopted()
		if !ok {
			pos, ok, err = r.tryClaimGet(ctx)
		}
		if !ok && err == nil && r.adoptDue.Load() {
			pos, ok = r.adoptDeadClaim()
		}
		if !ok {
			return 0, 0, false, err
		}
		if pos, n, ok, err := r.checkClaimed(pos); ok || err != nil {
			return pos, n, ok, err
		}
	}
}

// checkClaimed checks the length of slot pos, which this handle claimed:
// ok with the message's length, or an error having given the slot back
// (a corrupt length), or neither, having skipped a slot given up (the
// caller claims the next).
func (r *MPMC) checkClaimed(pos uint64) (uint64, int, bool, error) {
	l := r.length(pos).Load()
	if l == lenAbandoned {
		r.skipGivenUp(pos)
		return 0, 0, false, nil
	}
	if l > uint32(r.slotBytes) {
		r.releaseGet(pos)
		return 0, 0, false, fmt.Errorf("%w: ring %q slot %d holds %d bytes, slots are %d", ErrCorrupt, r.name, pos&r.mask, l, r.slotBytes)
	}
	return pos, int(l), true, nil
}

// limitRoom returns how many slots from pos a claim may take within
// WithLimit's bound, up to want (the caller holds putMu and checks that
// the ring has a limit). It reads dequeue only when deqSeen leaves less
// than want.
func (r *MPMC) limitRoom(pos, want uint64) uint64 {
	// The kept reading counts only as a position at or behind pos: one
	// "ahead" of it (its zero before the first reading, with positions
	// near 2^64) would give more room than the bound, so it is read again.
	if d := pos - r.deqSeen; d <= r.limit && r.limit-d >= want {
		return want
	}
	r.deqSeen = r.deq.Load()
	// A fresh dequeue past pos means pos is stale: room, and the claim's
	// CAS fails and reads enqueue again.
	return uint64(min(max(int64(r.limit)-int64(pos-r.deqSeen), 0), int64(want)))
}

func (r *MPMC) hasSpace() bool { return r.hasRoom(1) }

// hasRoom reports whether the n slots from enqueue (1 <= n <= capacity)
// look free for a claim now: within WithLimit's bound, and the last of
// them emptied for this lap. Consumers give slots back in order but for
// a run's chunks and for one another's, so the slots before it are as
// good as free. It reads one slot n-1 past enqueue: a line the consumers
// gave back a while ago, not the one they are emptying now, which is what
// a producer blocked on a full ring should spin on (see HasRoom).
//
// A run's room (n > 1) within the bound is read from a slot too: room
// for n means that the consumers have given back position pos+n-1-limit,
// whose slot then shows seq == that position + capacity, Vyukov's test
// for the lap after it. On a ring full to its bound that slot is n-1 past
// the consumers' head, about to be given back: its line moves once per
// release, not at every claim. A slot claimed and not yet given back
// counts as taken here, which holds the gate shut for its window at most,
// or its first park if it parked (RoomGate then opens on hasSpace, the
// exact test: TestRoomGatePassesAHeldSlotAtTheBound). Read from dequeue,
// as hasSpace still reads it, the bound took the word every consumer's
// claim writes at each look of a waiting producer, and each claim then
// waited for it: a queue's ring has a bound under its capacity (slots to
// spare), and 64-byte messages put 64 at a time and got one at a time
// ran at 11.9-14.2 M msgs/s against 22.8-27.4 reading the slot (queue's
// BenchmarkProducers, queue-putbatch, one producer, 3 interleaved passes;
// docs/queue.md).
func (r *MPMC) hasRoom(n uint64) bool {
	pos := r.enq.Load()
	if r.limit < r.capacity {
		if n == 1 {
			if int64(pos-r.deq.Load()) >= int64(r.limit) {
				return false // held at WithLimit's bound
			}
		} else if q := pos + n - 1 - r.limit; n > r.limit || int64(r.seq(q).Load()-(q+r.capacity)) < 0 { // observes: slot emptied (position q)
			return false // held at WithLimit's bound
		}
	}
	last := pos + n - 1
	return int64(r.seq(last).Load()-last) >= 0
}

func (r *MPMC) hasData() bool { return r.hasDataAt(1) }

// hasDataAt reports whether the n slots from dequeue (1 <= n <= capacity)
// look filled now: the last of them filled for this lap. Producers publish
// in about the order they claim, so the slots before it are filled too or
// about to be. It reads one slot n-1 past dequeue: a line the producers
// are done with, not the one they are filling now, which is what a
// consumer that has caught up with a stream spins on (see HasDataAt).
func (r *MPMC) hasDataAt(n uint64) bool {
	pos := r.deq.Load() + n - 1
	return int64(r.seq(pos).Load()-(pos+1)) >= 0
}

// roomOrClosed and dataOrClosed are what blocked Puts and Gets wait for:
// the ring's state through their gates (see ringx.RoomGate and
// ringx.DataGate), or Close on this handle (whose wake a waiter about to
// sleep could otherwise miss until its next poll).
func (r *MPMC) roomOrClosed(g *ringx.RoomGate) bool { return r.closed.Load() || g.Open() }
func (r *MPMC) dataOrClosed(g *ringx.DataGate) bool { return r.closed.Load() || g.Open() }

// producersClosed and consumersClosed report that every handle of that
// role has closed: a blocked Get or Put then ends (waitSide.wait's settle).
func (r *MPMC) producersClosed() bool { return r.noneAttached(roleProducer, r.producersEver) }
func (r *MPMC) consumersClosed() bool { return r.noneAttached(roleConsumer, r.consumersEver) }

// dataOrProducersClosed is a blocked Get's settle (waitSide.wait's), which
// it looks at once counted, before it parks: every producer closed, or a
// message at the head whatever the Get's gate says. A gate still inside
// its window when the spin ends (a spin shorter than ringx.DataWindow,
// WithSpin(0)) must not send the waiter to sleep beside a message whose
// wake came before it was counted: it would sleep spin.FirstPark.
func (r *MPMC) dataOrProducersClosed() bool { return r.hasData() || r.producersClosed() }

// TryPut copies p into a free slot; ok is false when the ring is full
// (also while another goroutine's Put on this handle waits for room, which
// it takes first). A message longer than SlotBytes is ErrTooLarge.
func (r *MPMC) TryPut(p []byte) (ok bool, err error) {
	if len(p) > r.slotBytes {
		return false, r.tooLarge(len(p))
	}
	if err := r.lockPut(noWait); err != nil {
		return false, noSlotYet(err)
	}
	defer r.putMu.Unlock()
	pos, ok, err := r.tryClaimPut(noWait)
	if !ok {
		return false, err
	}
	memcopy.Copy(r.payload(pos), p)
	r.publishPut(pos, len(p))
	return true, nil
}

// Put copies p into a free slot, blocking while the ring is full until ctx
// is done or the consumers are gone (ErrPeerDead, ErrClosed). The handle's
// first Put or Get takes its participant slot, and waits, as for room,
// while the only slots to take are dead participants' whose claims a live
// one has yet to resolve (see takePart). Blocked on a full ring, it
// waits for room for a quarter of the ring (of its WithLimit bound) rather
// than for the first slot freed, for up to 20 µs while it spins: it then
// reads a line the consumers are done with, not the one they are emptying.
func (r *MPMC) Put(ctx context.Context, p []byte) error {
	if len(p) > r.slotBytes {
		return r.tooLarge(len(p))
	}
	return r.PutFunc(ctx, func(slot []byte) int { return memcopy.Copy(slot, p) })
}

// PutFunc claims a free slot (blocking as Put does), lets fill write the
// message in place and return its length (0..SlotBytes), and publishes it.
// fill must not block or call the ring. A fill that panics gives the slot
// up (consumers skip it) before its panic goes on.
func (r *MPMC) PutFunc(ctx context.Context, fill func(slot []byte) int) error {
	if err := r.lockPut(ctx); err != nil {
		if err = r.awaitPart(ctx, err, roleProducer, &r.putMu); err != nil {
			return err
		}
	}
	defer r.putMu.Unlock()
	slow := false
	var g ringx.RoomGate // set once the ring is found full
	for {
		pos, ok, err := r.tryClaimPut(ctx)
		if err != nil {
			return err
		}
		if ok {
			n := r.fillOne(pos, fill)
			if n < 0 || n > r.slotBytes {
				r.publishPut(pos, 0)
				panic(fmt.Sprintf("ringbuf: PutFunc fill returned %d, slot holds %d", n, r.slotBytes))
			}
			r.publishPut(pos, n)
			return nil
		}
		if g == (ringx.RoomGate{}) {
			g = ringx.NewRoomGate((*mpmcX)(r), ringx.PutRoom, int(r.limit))
		}
		if slow, err = r.awaitSpace(ctx, slow, &g); err != nil {
			return err
		}
	}
}

// awaitSpace is a blocked Put's wait for room, with putMu held: the
// rescue first when the last wait said to look further (slow), then the
// wait. It returns whether the next round should look further.
func (r *MPMC) awaitSpace(ctx context.Context, slow bool, g *ringx.RoomGate) (bool, error) {
	if slow {
		retry, err := r.rescueFull()
		if err != nil {
			return false, err
		}
		if retry {
			return false, nil // the head was freed
		}
	}
	err := r.space.wait(ctx, func() bool { return r.roomOrClosed(g) }, r.consumersClosed)
	if r.closed.Load() { // observes: Close on this handle, which woke us
		return false, ErrClosed
	}
	switch err {
	case nil:
		// Woken without room: look further only when every consumer
		// has closed (cheap); dead ones are looked for every poll.
		return !r.hasSpace() && r.consumersClosed(), nil
	case errPoll:
		return true, nil
	}
	return false, err
}

// TryGet copies the next message into buf and returns its length; ok is
// false when the ring is empty (also while another goroutine's Get on this
// handle waits for a message, which it takes first, or for up to 5 µs
// keeps its distance from a stream with a few messages queued, see
// GetFunc). A message longer than buf is truncated to len(buf) and TryGet
// returns its full length with ErrShortBuffer (a buf of SlotBytes never
// truncates).
func (r *MPMC) TryGet(buf []byte) (n int, ok bool, err error) {
	if err := r.lockGet(noWait); err != nil {
		return 0, false, noSlotYet(err)
	}
	defer r.getMu.Unlock()
	pos, n, ok, err := r.getClaimed(noWait)
	if !ok {
		return 0, false, err
	}
	memcopy.CopyOut(buf, r.payload(pos)[:n])
	r.releaseGet(pos)
	if n > len(buf) {
		return n, true, ErrShortBuffer
	}
	return n, true, nil
}

// Get copies the next message into buf and returns its length, blocking
// while the ring is empty until ctx is done or the producers are gone
// (io.EOF when all closed, ErrPeerDead when one died). Truncation as TryGet.
// Its first call on a handle takes a participant slot as Put's does; a
// dead consumer's slot comes with the messages it had not given back,
// which this handle's Gets deliver first.
func (r *MPMC) Get(ctx context.Context, buf []byte) (int, error) {
	var n int
	err := r.GetFunc(ctx, func(msg []byte) { n = memcopy.CopyOut(buf, msg); n = max(n, len(msg)) })
	if err == nil && n > len(buf) {
		err = ErrShortBuffer
	}
	return n, err
}

// GetFunc claims the next message (blocking as Get does) and hands it to
// use in place; the slot is given back when use returns, or panics (the
// message is then consumed). use must not keep msg, block, or call the
// ring. Once every 64 Gets, the only consumer of a ring of at least 1024
// messages that finds only 8 to 63 of them queued first waits up to 5 µs
// for 256: taken right behind the producers, each message would cost
// both sides a trip of its lines between their cores.
func (r *MPMC) GetFunc(ctx context.Context, use func(msg []byte)) error {
	if err := r.lockGet(ctx); err != nil {
		if err = r.awaitPart(ctx, err, roleConsumer, &r.getMu); err != nil {
			return err
		}
	}
	defer r.getMu.Unlock()
	r.keepBehind()
	slow := false
	var g ringx.DataGate // set once the ring is found empty
	for {
		pos, n, ok, err := r.getClaimed(ctx)
		if err != nil {
			return err
		}
		if ok {
			r.useOne(pos, n, use)
			r.streaming = g == (ringx.DataGate{}) // found at once
			return nil
		}
		if slow, err = r.awaitData(ctx, slow, &g, ringx.DataRun); err != nil {
			return err
		}
	}
}

// awaitData is a blocked Get's wait for a message, with getMu held: the
// rescue first when the last wait said to look further (slow), then the
// wait through g (none when the rescue readied a dead consumer's
// message). g is set at the first wait of the Get, for k messages (see
// ringx.Want), and stays set: the caller's "found at once". It returns
// whether the next round should look further.
func (r *MPMC) awaitData(ctx context.Context, slow bool, g *ringx.DataGate, k int) (bool, error) {
	if *g == (ringx.DataGate{}) {
		*g = ringx.NewDataGate((*mpmcX)(r), ringx.Want(r.streaming, k), int(r.limit))
	}
	if slow {
		if err := r.rescueEmpty(); err != nil {
			return false, err
		}
		if r.adoptDue.Load() {
			return false, nil // a dead consumer's message to deliver
		}
	}
	err := r.data.wait(ctx, func() bool { return r.dataOrClosed(g) }, r.dataOrProducersClosed)
	if r.closed.Load() { // observes: Close on this handle, which woke us
		return false, ErrClosed
	}
	switch err {
	case nil:
		// Woken to nothing (several consumers share a wake): look
		// further only when every producer has closed (cheap).
		return !r.hasData() && r.producersClosed(), nil
	case errPoll:
		return true, nil
	}
	return false, err
}

// keepBehind is the distance the consumers' sole claimer keeps from a
// stream when it takes one message at a time (ringx.Behind), with getMu
// held: once every ringx.BehindEvery takes it may wait up to
// ringx.BehindWindow, and another goroutine's Try call on this handle
// gives up behind it as behind a wait for the ring. Only the sole
// claimer waits: with several consumers draining one ring, the count
// queued past the shared dequeue is not this consumer's distance from the
// producers, and nothing was measured there.
func (r *MPMC) keepBehind() {
	if r.deqSole.own && r.behind.Tick() { // inlined into every Get
		r.lookBehind()
	}
}

// lookBehind is keepBehind's look, and its wait where the look says so,
// with getMu held.
func (r *MPMC) lookBehind() {
	if !ringx.Look((*mpmcX)(r), int(r.limit)) {
		return
	}
	r.getMu.holderWaits(true)
	if behindWaitHook != nil {
		behindWaitHook()
	}
	ringx.WaitRun((*mpmcX)(r))
	r.getMu.holderWaits(false)
}

// behindWaitHook, when set (tests), runs as keepBehind starts to wait.
var behindWaitHook func()

func (r *MPMC) tooLarge(n int) error {
	return fmt.Errorf("%w: message of %d bytes, ring %q slots hold %d", ErrTooLarge, n, r.name, r.slotBytes)
}

// rescueEmpty runs when a consumer finds the ring empty for a while: a slot
// claimed by a producer that died before filling it is marked abandoned (and
// then skipped); with no producer alive it says why (io.EOF, ErrPeerDead).
func (r *MPMC) rescueEmpty() error {
	if r.deadClaimPending() {
		r.adoptDue.Store(true)
		return nil
	}
	if r.abandonDeadRun(r.deq.Load()) {
		r.data.wake()
		return nil
	}
	live, dead := r.parts.liveness(func(i int) bool { return r.parts.word32(i, partOffRole).Load()&(roleProducer|roleHandoff) != 0 })
	if r.producersEver.Load() == 0 && !live && !dead {
		return nil
	}
	switch {
	case live:
		return nil
	case dead:
		return fmt.Errorf("%w: every producer of ring %q is gone, one died", ErrPeerDead, r.name)
	}
	if r.hasData() {
		return nil
	}
	return io.EOF
}

// rescueFull runs when a producer finds the ring full for a while: with no
// consumer alive it says why. A slot held by a consumer that died before
// emptying it stays full: its message goes to the next live consumer that
// finds the ring empty (see adoptDeadClaim), not to the floor.
func (r *MPMC) rescueFull() (retry bool, err error) {
	if r.skipDeadHead() {
		return true, nil
	}
	live, dead := r.parts.liveness(func(i int) bool { return r.parts.word32(i, partOffRole).Load()&(roleConsumer|roleHandoff) != 0 })
	if r.consumersEver.Load() == 0 && !live && !dead {
		return false, nil
	}
	switch {
	case live:
		return false, nil
	case dead:
		return false, fmt.Errorf("%w: every consumer of ring %q is gone, one died", ErrPeerDead, r.name)
	}
	return false, fmt.Errorf("%w: every consumer of ring %q closed its end", ErrClosed, r.name)
}

// skipDeadHead frees the ring's head for producers when it holds no
// message: a slot there claimed by a producer that died before filling it
// is given up, and a given-up slot there is skipped as a consumer would
// skip it, so that a ring held at its limit by dead producers' claims
// takes new messages although no consumer runs. It uses the handle's
// consumer claim word, so it runs only while the handle's Get side is idle.
// It reports whether it freed a slot.
func (r *MPMC) skipDeadHead() bool {
	if r.self() < 0 || !r.getMu.TryLock() {
		return false // no participant slot (a handle that only joins, or waits for one), or its Get side busy
	}
	defer r.getMu.Unlock()
	if r.adoptNext < r.adoptEnd {
		return false // its dequeue claim words hold an adopted run
	}
	freed := false
	for {
		pos := r.deq.Load()
		if int64(r.enq.Load()-pos) <= 0 {
			return freed
		}
		r.abandonDeadRun(pos)
		seq := r.seq(pos).Load()
		if seq != pos+1 || r.length(pos).Load() != lenAbandoned {
			return freed
		}
		if !r.deqSole.own && r.deqSole.mode.Load() != soleShared {
			// A slot to skip, by CAS: no sole claimer may store the
			// position meanwhile. Joined only here, where the rescue
			// moves the position: a producer waiting on a slower
			// consumer runs it every poll period, and a join before the
			// look shared the consumers' side for good at the first
			// (TestSoleConsumerKeepsItsSideThroughAFullRingsRescue). A
			// rescue does not make a producer the consumers' sole
			// claimer.
			if r.join(noWait, &r.deqSole, false) != nil {
				return freed // its sole claimer within a claim: at the next poll
			}
			continue // the head may have moved while it waited
		}
		claim := r.parts.word(r.part, partOffDeqClaim)
		(*pubWord)(claim).storeRelease(pos + 1)
		if r.deq.CompareAndSwap(pos, pos+1) { // claims the abandoned slot for emptying
			r.skipGivenUp(pos)
			freed = true
			continue
		}
		// Lost to a consumer that claimed the slot: left at pos + 1, the
		// claim would cover that consumer's slot while this handle lives,
		// and were the consumer to die holding it, no adopter would take
		// it over from a live holder (TestRescueSkipLostLeavesNoClaim).
		claim.Store(0)
	}
}

// noneAttached reports, without reading /proc, whether participants of the
// role have attached (ever counts them) and none is attached any more (a
// slot reserved for a child counts as both roles).
func (r *MPMC) noneAttached(role uint32, ever *atomic.Uint32) bool {
	if ever.Load() == 0 {
		return false
	}
	for i := 0; i < r.parts.n; i++ {
		if r.parts.owner(i).Load() != 0 && r.parts.word32(i, partOffRole).Load()&(role|roleHandoff) != 0 {
			return false
		}
	}
	return true
}

// deadClaimPending reports whether a message claimed for emptying by
// consumers that are all dead (or closed) waits for adoption.
func (r *MPMC) deadClaimPending() bool {
	_, _, _, ok := r.deadClaim()
	return ok
}

// deadClaim finds the lowest participant whose dequeue claim (c, with
// the run's end e: see claimRange) still holds a message (a position
// filled for that lap and not emptied), whose holder is dead or detached,
// and no position of which that still holds its message is covered by a
// live participant's claim. A claim word alone does not make its holder
// the owner (an adopter stores the claim before it takes it; a consumer
// killed between its claim and its CAS leaves a range over positions
// others took), hence the look at every holder (liveHolder): a live one
// may be the owner.
func (r *MPMC) deadClaim() (i int, c, e uint64, ok bool) {
	self := r.self()
	for i := 0; i < r.parts.n; i++ {
		if i == self {
			continue
		}
		lo, hi, ok, torn := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
		if !ok || torn || !r.unreleased(lo, hi) {
			continue
		}
		if w := r.parts.owner(i).Load(); w != 0 && procinfo.AliveWord(w) {
			continue
		}
		if !r.liveHolder(lo, hi, self) {
			return i, lo + 1, hi + 1, true
		}
	}
	return -1, 0, 0, false
}

// adoptDeadClaim takes over the claim of a consumer that died holding
// slots (the messages in them are intact: consumers only read, and reset
// a slot's length once they have used it), so that this handle delivers
// them, exactly once, in order: one slot, or what a GetBatch run had not
// yet used. The adopter stores the claim as its
// own first, then looks for another live holder of it (another adopter:
// with sequentially consistent atomics, of two adopters that both stored,
// at least one sees the other, and backs off), and only then clears the
// dead holder's claim with a CAS. An adopter that dies before it has
// delivered the run is one more dead holder; the next adopter takes the
// claim over. Called with getMu held, on an empty ring; it returns the
// first position to deliver, the rest following through nextAdopted.
func (r *MPMC) adoptDeadClaim() (pos uint64, ok bool) {
	mine := r.parts.word(r.part, partOffDeqClaim)
	mineEnd := r.parts.word(r.part, partOffDeqClaimEnd)
	for {
		i, c, e, found := r.deadClaim()
		if !found {
			r.adoptDue.Store(false)
			return 0, false
		}
		mine.Store(0) // no claim while the range changes (see claimRange)
		mineEnd.Store(e)
		(*pubWord)(mine).storeRelease(c)
		if r.liveHolder(c-1, max(e-1, c), r.part) {
			mine.Store(0) // another adopter is at it: leave it the messages
			r.adoptDue.Store(false)
			return 0, false
		}
		if r.parts.word(i, partOffDeqClaim).CompareAndSwap(c, 0) { // dead consumer's claim -> none (ours now)
			r.adoptNext, r.adoptEnd = c-1, max(e-1, c)
			if pos, ok = r.nextAdopted(); ok {
				return pos, true
			}
		}
		mine.Store(0)
	}
}

// nextAdopted returns the next position of an adopted run that still
// holds its message (the dead consumer emptied a prefix of its run).
func (r *MPMC) nextAdopted() (pos uint64, ok bool) {
	for r.adoptNext < r.adoptEnd {
		pos = r.adoptNext
		r.adoptNext++
		if r.seq(pos).Load() == pos+1 { // still holds the message of that lap
			return pos, true
		}
	}
	return 0, false
}

// liveHolder reports whether a live participant other than skip (this
// handle's slot, or -1) holds a dequeue claim that covers a position of
// [lo, hi) still holding its message (or claim words torn under the read:
// a live owner at work).
// The owner of a claimed position is the consumer whose CAS took it, and
// its claim covers the position until it has emptied it; a dead
// consumer's range stored before a CAS it lost or never made may cover
// positions of other consumers, with another start, so holders are
// found by overlap, not by equal claims.
func (r *MPMC) liveHolder(lo, hi uint64, skip int) bool {
	for i := 0; i < r.parts.n; i++ {
		if i == skip {
			continue
		}
		l, h, ok, torn := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
		if !torn && (!ok || h <= lo || l >= hi || !r.unreleased(max(l, lo), min(h, hi))) {
			continue
		}
		if w := r.parts.owner(i).Load(); w != 0 && procinfo.AliveWord(w) {
			return true
		}
	}
	return false
}

// abandonDeadRun gives up the slots from pos on that producers claimed and
// died before filling (seq still pos): a dead claimant's run may leave
// several in a row, all given up at once (a slot whose producer died after
// storing its length holds its whole message: it is delivered). It stops at the first position
// that is filled, not yet claimed, or claimed by a live producer, and
// reports whether it gave any up.
func (r *MPMC) abandonDeadRun(pos uint64) bool {
	any := false
	for end := pos + r.capacity; pos < end && r.enq.Load() > pos && r.seq(pos).Load() == pos; pos++ {
		if h := mpmcAbandonHook; h != nil {
			h(pos, 0)
		}
		// Look at seq again after the claim words: a live claimant that
		// filled pos and began its next claim between the first look and
		// the scan no longer covers pos, and a dead producer's stale
		// range (stored before a CAS it never made) may; its
		// publication came before that next claim, so this look sees it.
		// (The CAS below would fail on that slot too, harmlessly, as no
		// store precedes it.)
		if !r.enqClaimantsDead(pos) || r.seq(pos).Load() != pos {
			break
		}
		if h := mpmcAbandonHook; h != nil {
			h(pos, 1)
		}
		// No length store: a slot's length is lenAbandoned from the
		// moment it is emptied (or created) until its producer stores the
		// message's, after the payload. A store here would race: another
		// rescuer may have given the slot up meanwhile, a consumer skipped
		// it and a producer filled it for its next lap. A producer killed
		// after its length store leaves a whole message, delivered.
		r.seq(pos).CompareAndSwap(pos, pos+1) // claimed by the dead -> filled (abandoned, or whole); lost: another rescuer did it
		any = true
	}
	return any
}

// mpmcAbandonHook, when set (tests), is called by abandonDeadRun between
// its look at a slot's seq and its look at the claim words (stage 0), and
// before its CAS on seq (stage 1).
var mpmcAbandonHook func(pos uint64, stage int)

// enqRange returns participant i's enqueue claim as the positions
// [lo, hi) it covers: one position for a Put, a run for a PutBatch. ok is
// false when there is none. A producer making a run claim stores enqClaim
// 0, then enqClaimEnd, then enqClaim, so that enqClaim read equal before
// and after enqClaimEnd vouches for it; torn reports words that changed
// under the read (their owner is alive and at work), which callers treat
// as a live claim of any position.
func (r *MPMC) enqRange(i int) (lo, hi uint64, ok, torn bool) {
	return r.claimRange(i, partOffEnqClaim, partOffEnqClaimEnd)
}

// claimRange is enqRange for the claim words at off and endOff (enqueue
// or dequeue).
func (r *MPMC) claimRange(i, off, endOff int) (lo, hi uint64, ok, torn bool) {
	cw := r.parts.word(i, off)
	c := cw.Load()
	if c == 0 {
		return 0, 0, false, false
	}
	e := r.parts.word(i, endOff).Load()
	if cw.Load() != c {
		return 0, 0, false, true
	}
	if e <= c || e-c > r.capacity {
		e = c + 1 // a single claim (an end left by an earlier run is below it); a longer run is no claim of this ring
	}
	return c - 1, e - 1, true, false
}

// enqClaimantsDead reports whether some participant's enqueue claim covers
// pos and every such claimant is dead.
func (r *MPMC) enqClaimantsDead(pos uint64) bool {
	found := false
	for i := 0; i < r.parts.n; i++ {
		lo, hi, ok, torn := r.enqRange(i)
		if torn {
			return false
		}
		if !ok || pos < lo || pos >= hi {
			continue
		}
		if w := r.parts.owner(i).Load(); w != 0 && procinfo.AliveWord(w) {
			return false
		}
		found = true
	}
	return found
}

// Close says this handle is done: its participant slot is freed
// (consumers of a ring whose producers all closed get io.EOF; producers of
// a ring whose consumers all closed get ErrClosed). This handle's own calls
// blocked in Put or Get return ErrClosed, Close waits for them, and every
// later call on it returns ErrClosed too. The ring stays in its segment. A
// handle decoded from a worker's arguments also drops the attachment its
// decoding made (shm.Attach); one made by New or Open unmaps nothing.
// Closing twice is harmless.
func (r *MPMC) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	close(r.closing) // a call waiting for a participant slot holds no lock: it returns ErrClosed
	// This handle's own calls blocked in Put or Get hold the locks below:
	// wake them first, so that they see closed and give the locks up.
	r.data.wake()
	r.space.wake()
	r.putMu.Lock()
	r.getMu.Lock()
	r.enqSole.release()
	r.deqSole.release()
	r.attachMu.Lock()
	if r.part >= 0 {
		r.parts.release(r.part)
		r.part = -1
	}
	r.attachMu.Unlock()
	r.getMu.Unlock()
	r.putMu.Unlock()
	r.data.wake()
	r.space.wake()
	if r.ownSeg {
		return r.seg.Close()
	}
	return nil
}

// TryPutFunc is PutFunc without blocking: ok is false when the ring is
// full (see TryPut). fill writes the message in place and returns its length, or a
// negative value to give the slot up (consumers skip it).
func (r *MPMC) TryPutFunc(fill func(slot []byte) int) (ok bool, err error) {
	if err := r.lockPut(noWait); err != nil {
		return false, noSlotYet(err)
	}
	defer r.putMu.Unlock()
	pos, ok, err := r.tryClaimPut(noWait)
	if !ok {
		return false, err
	}
	n := r.fillOne(pos, fill)
	if n < 0 {
		r.giveUpPut(pos)
		return false, nil
	}
	if n > r.slotBytes {
		r.publishPut(pos, 0)
		panic("ringbuf: TryPutFunc fill returned more than SlotBytes")
	}
	r.publishPut(pos, n)
	return true, nil
}

// TryGetFunc is GetFunc without blocking: ok is false when the ring is
// empty (see TryGet). use gets the message in place and must not keep it.
func (r *MPMC) TryGetFunc(use func(msg []byte)) (ok bool, err error) {
	if err := r.lockGet(noWait); err != nil {
		return false, noSlotYet(err)
	}
	defer r.getMu.Unlock()
	pos, n, ok, err := r.getClaimed(noWait)
	if !ok {
		return false, err
	}
	r.useOne(pos, n, use)
	return true, nil
}

// fillOne lets fill write the message of slot pos, which this handle
// claimed, and returns its length. A fill that panics (a codec's bug
// that its caller recovers) gives the slot up on its way out: left
// claimed and unpublished, it held every consumer behind it for ever.
func (r *MPMC) fillOne(pos uint64, fill func(slot []byte) int) int {
	panicked := true
	defer func() {
		if panicked {
			r.giveUpPut(pos)
		}
	}()
	n := fill(r.payload(pos))
	panicked = false
	return n
}

// giveUpPut publishes slot pos, which this handle claimed, as given up:
// consumers skip it.
func (r *MPMC) giveUpPut(pos uint64) {
	r.length(pos).Store(lenAbandoned)
	r.seq(pos).Store(pos + 1) // publishes: slot given up, skipped by consumers
	r.data.wake()
}

// useOne hands the n-byte message of slot pos, which this handle claimed,
// to use, and gives the slot back: also when use panics (the message is
// consumed, as by a decoding error), else producers waited on the slot
// for ever once the ring came round to it.
func (r *MPMC) useOne(pos uint64, n int, use func(msg []byte)) {
	defer r.releaseGet(pos)
	use(r.payload(pos)[:n])
}
