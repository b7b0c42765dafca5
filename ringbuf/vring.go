package ringbuf

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/prefetch"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// vring is the variable-length ring under SPSC and MPSC: Lamport's ring with
// cached indices, Agrona's record commit (length negative while in
// progress, positive once published) and a padding record at the wrap. An
// SPSC producer owns tail and publishes its records by storing it at
// Commit; MPSC producers claim space with a CAS on tail and publish each
// record by its header, and the consumer zeroes what it frees so that a
// claimed but unwritten header reads as 0.
type vring struct {
	_        noCopy
	seg      *shm.Segment
	name     string
	kind     shm.Kind
	multi    bool // MPSC: producers CAS the tail, the consumer zeroes
	body     []byte
	data     []byte // capacity bytes, CacheLine aligned
	capacity uint64
	mask     uint64
	maxRec   int
	slots    slotTable
	opt      options
	closed   atomic.Bool
	ownSeg   bool        // GobDecode attached seg: Close closes it
	closing  atomic.Bool // MPSC: this handle's CloseWrite has begun; its Write waiting for room gives up

	tail, head                  *atomic.Uint64
	consumer                    *atomic.Uint64
	zeroEnd                     *atomic.Uint64
	consumerEver, producersEver *atomic.Uint32
	consumerSeq, shared         *atomic.Uint32

	_ [cacheLine]byte
	p producerSide
	_ [cacheLine]byte
	c consumerSide
	_ [cacheLine]byte
}

// producerSide is the producer's process-local state: the cached head is
// Lamport's optimisation (the producer re-reads the shared head only when
// the cached one says the ring is full). Written by the producer only.
type producerSide struct {
	mu        handleLock // MPSC: serialises this handle's producers, Reserve to Commit
	slot      int        // attached slot; -1 before the first write
	gen       uint16
	closed    bool
	tail      uint64 // SPSC: the tail (this producer is its only writer)
	headCache uint64
	res       bool   // a reservation is outstanding
	resIdx    uint64 // its header's index in data
	resHdr    uint64 // its header as Commit will store it
	resEnd    uint64 // SPSC: the tail after the reservation
	published uint64 // SPSC: the tail as last stored in the ring (WithWriteBatch)
	need      uint64 // bytes the last failed TryReserve wanted
	fastEnd   uint64 // SPSC: records ending at or below it take the fast path (0: none do)
	hdr       uint64 // the header of this producer's messages, length 0
	padHdr    uint64 // the header of this producer's padding, length 0
	maxRec    uint64 // MaxRecord, here for the fast path
	fastMax   uint64 // the largest payload fastRoom places: under alignMin
	wait      waitSide
}

// consumerSide is the consumer's process-local state; the cached tail is
// the consumer's half of Lamport's optimisation. Written by the consumer only.
type consumerSide struct {
	attached  bool
	closed    bool
	head      uint64 // the head (this consumer is its only writer)
	published uint64 // the head as last stored in the ring
	tailCache uint64
	peekIdx   uint64 // index of the peeked record; valid while peekA > 0
	peekA     uint64 // aligned size of the peeked record; 0 = none
	peekLen   uint64 // header+payload bytes of the peeked record
	recLen    uint64 // header+payload bytes of the record scan found last
	batching  bool   // inside ReadBatch: publish the head per quarter ring
	pfEnd     uint64 // ReadBatch, PeekBatch: lines below this position were prefetched
	lookDue   int64  // tryNext: when (spin.Now) an empty ring next gets the slow look
	batch     Batch  // PeekBatch's run of records; outstanding while peekA == batchPeeked
	wait      waitSide
	// streaming: the last wait for a record found one at once, or after
	// a lull; an MPSC consumer then lulls before it waits (see lull).
	streaming bool
	lastRun   int           // records the last ReadBatch handed over
	lullFor   time.Duration // the last lull's length (see learnLull); 0 before the first
	found     int           // records found without a wait since the last lull
}

// streamLull and minLull bound how long an MPSC consumer that caught up
// with a stream keeps off the ring before it looks again (see lull), and
// lullPays is the run it must find after a lull for the next to be longer;
// lullRun is the longest last run of a ReadBatch that still lulls.
const (
	streamLull = 20 * time.Microsecond
	minLull    = 2 * time.Microsecond
	lullPays   = 32
	lullRun    = 8
)

// lullHook, when set (tests), is called with each lull's length before it.
var lullHook func(time.Duration)

// lull keeps an MPSC consumer that has caught up with a stream (its last
// record was there at once, and now there is none) off the ring for a
// while (minLull to streamLull, see learnLull), without a load of shared
// memory, before it looks again and waits as usual. A consumer that spins
// on the header at its head takes that line from the producer writing the
// next record at every look, and each of the producer's stores, then its
// next locked instruction (the tail's claim), waits for the line to come
// back, once for every record; after a lull it finds a run of records and
// reads them in a row.
// Records have no fixed size, so unlike an MPMC ring's consumer
// (ringx.DataGate) it cannot look at the record a run ahead, and the
// shared tail is the line the producers claim on. A consumer that waited
// for its last record (a request answered one at a time) never lulls.
// BenchmarkProducers/mpsc (records put one at a time, read by ReadBatch),
// 64 bytes: 9.6/13.4/14.2/14.0/13.8 -> 21.8/20.4/19.9/20.1/19.9 M msgs/s
// with 1/2/3/4/8 producers (docs/ringbuf.md).
//
// Since 2026-12-07 a lull adapts between minLull (2 µs, the old fixed
// length) and streamLull (20 µs): it doubles when the records found at
// once since the last lull (after it, and by the reads after those) number
// lullPays or more, and halves when they do not. The rule counts records,
// not a rate: a stream of 1.6 to 16 records a µs finds 32 in a lull of 20
// µs but not in one of 2, and keeps whichever length its history gave it
// (found by review); a burst of lullPays records after a long gap doubles
// it too, at no cost, as no record comes during the lull after a burst. Behind
// producers writing as fast as they can, 20 µs gave more than 2 (AMD EPYC
// VM, 5 interleaved passes, floor p50 130-140 ns, 2 / 10 / 20 µs fixed:
// 18.0 / 26.0 / 29.4, 22.5 / 25.5 / 28.6, 21.4 / 25.4 / 27.7, 22.6 / 26.6
// / 28.0 and 22.6 / 25.5 / 29.2 M msgs/s with 1/2/3/4/8 producers; 40 µs
// no better than 20). But a stream paced at a record every few µs keeps
// its consumer streaming, and a fixed 20 µs lull delayed every record of
// it: p50 276 ns -> 10.8 µs at a record every 3 µs (found by review). Such
// a stream finds a record or two after each lull, and its lull stays at
// 2 µs.
func (c *consumerSide) lull() {
	d := c.lullFor // set by learnLull, which runs before every lull
	if hook := lullHook; hook != nil {
		hook(d)
	}
	for t0 := spin.Now(); spin.Now()-t0 < int64(d); {
		spin.Relax()
	}
}

// learnLull sets the next lull's length from the run found since the last.
func (c *consumerSide) learnLull() {
	d := max(c.lullFor, minLull)
	if c.found >= lullPays {
		d = min(2*d, streamLull)
	} else {
		d = max(d/2, minLull)
	}
	c.lullFor, c.found = d, 0
}

func makeHeader(length int32, slot int, typ uint8, gen uint16) uint64 {
	return uint64(uint32(length)) | uint64(uint8(slot))<<32 | uint64(typ)<<40 | uint64(gen)<<48
}

func splitHeader(h uint64) (length int32, slot int, typ uint8, gen uint16) {
	return int32(uint32(h)), int(uint8(h >> 32)), uint8(h >> 40), uint16(h >> 48)
}

// checkVring refuses the geometry of an SPSC or MPSC ring that create
// cannot make: capacity bytes, slots producer slots.
func checkVring(capacity, slots int) error {
	if capacity < MinCapacity || capacity > MaxCapacity || !isPow2(uint64(capacity)) {
		return fmt.Errorf("%w: capacity %d is not a power of two in [%d, %d]", ErrInvalid, capacity, MinCapacity, MaxCapacity)
	}
	if slots < 1 || slots > MaxProducers {
		return fmt.Errorf("%w: %d producer slots, want 1..%d", ErrInvalid, slots, MaxProducers)
	}
	return nil
}

func (r *vring) create(seg *shm.Segment, name string, kind shm.Kind, capacity int, opts []Option) error {
	o := defaultOptions()
	o.slots = DefaultProducers
	if kind == shm.KindSPSC {
		o.slots = spscSlots
	}
	for _, f := range opts {
		f.apply(&o)
	}
	if err := checkVring(capacity, o.slots); err != nil {
		return err
	}
	spec := shm.ObjectSpec{Kind: kind, Version: vringVersion, Capacity: uint64(capacity), BodySize: vringBodySize(capacity, o.slots)}
	obj, err := seg.Alloc(name, spec, func(body []byte) error {
		le.PutUint64(body[vOffCapacity:], uint64(capacity))
		le.PutUint32(body[vOffMaxRecord:], uint32(MaxRecord(capacity)))
		le.PutUint32(body[vOffSlots:], uint32(o.slots))
		return nil
	})
	if err != nil {
		return err
	}
	return r.init(seg, obj, kind, o)
}

func (r *vring) open(seg *shm.Segment, name string, kind shm.Kind, opts []Option) error {
	o := defaultOptions()
	for _, f := range opts {
		f.apply(&o)
	}
	obj, err := seg.Lookup(name, &shm.ObjectSpec{Kind: kind, Version: vringVersion})
	if err != nil {
		return err
	}
	return r.init(seg, obj, kind, o)
}

// init checks the body's config line and points the handle at its words.
func (r *vring) init(seg *shm.Segment, obj *shm.Object, kind shm.Kind, o options) error {
	body := obj.Body
	if err := mapCheck(body); err != nil {
		return err
	}
	capacity, slots, err := checkVringConfig(body)
	if err != nil {
		return fmt.Errorf("ring %q: %w", obj.Name, err)
	}
	r.seg, r.name, r.kind, r.multi, r.body, r.opt = seg, obj.Name, kind, kind == shm.KindMPSC, body, o
	r.capacity, r.mask, r.maxRec = uint64(capacity), uint64(capacity-1), MaxRecord(capacity)
	r.slots = slotTable{mem: body[vOffSlots0 : vOffSlots0+slots*slotSize], n: slots}
	off := vOffSlots0 + slots*slotSize
	r.data = body[off : off+capacity : off+capacity]
	r.tail, r.head = u64(body, vOffTail), u64(body, vOffHead)
	r.consumer = u64(body, vOffConsumer)
	r.zeroEnd = u64(body, vOffZeroEnd)
	r.consumerSeq, r.shared = u32(body, vOffConsumerSeq), u32(body, vOffShared)
	r.consumerEver, r.producersEver = u32(body, vOffConsumerEver), u32(body, vOffProducersEver)
	r.p.slot = -1
	r.p.wait.init(u32(body, vOffSpaceSeq), u32(body, vOffSpaceWaiters), u32(body, vOffSpaceParked), &r.opt)
	r.c.wait.init(u32(body, vOffDataSeq), u32(body, vOffDataWaiters), u32(body, vOffDataParked), &r.opt)
	if r.multi {
		r.p.wait.holder = &r.p.mu // (an SPSC handle has no producer lock)
	}
	return nil
}

func (r *vring) hdr(idx uint64) *atomic.Uint64 { return u64(r.data, idx) }

// Cap returns the ring's data capacity in bytes.
func (r *vring) Cap() int { return int(r.capacity) }

// MaxRecord returns the largest payload this ring accepts.
func (r *vring) MaxRecord() int { return r.maxRec }

// Name returns the ring's object name in its segment.
func (r *vring) Name() string { return r.name }

// Len returns the bytes in use (records, headers and padding), a snapshot;
// 0 once the handle is closed.
func (r *vring) Len() int {
	if r.closed.Load() { // a decoded handle's mapping is gone
		return 0
	}
	return inUse(r.tail.Load(), r.head.Load(), r.capacity)
}

// SetOptions changes the handle's wait strategy, spin count or poll period.
// Do not call it while a call on the handle is blocked.
func (r *vring) SetOptions(opts ...Option) {
	r.opt.apply(opts, &r.p.wait, &r.c.wait)
}

// ---- producer side ----

// attachProducer takes a producer slot on first use. An SPSC ring refuses
// a second live producer.
func (r *vring) attachProducer() error {
	if r.closed.Load() || r.p.closed {
		return ErrClosed
	}
	if slot, gen := r.adoptReserved(); slot >= 0 {
		r.setupProducer(slot, gen)
		return nil
	}
	if !r.multi {
		me := procinfo.Self().Word()
		for i := 0; i < r.slots.n; i++ {
			if w := r.slots.owner(i).Load(); w != 0 && (w == me || procinfo.AliveWord(w)) {
				return fmt.Errorf("%w: ring %q already has a producer (%v)", ErrBusy, r.name, procinfo.FromWord(w))
			}
		}
	}
	slot, gen, err := r.slots.take(r.claimResolved)
	if err == errSlotPending {
		return err
	} else if err != nil {
		return fmt.Errorf("ring %q: %w", r.name, err)
	}
	if !r.multi {
		// Two processes may have checked at once: whoever sees the other's
		// slot taken backs off.
		me := procinfo.Self().Word()
		for i := 0; i < r.slots.n; i++ {
			if w := r.slots.owner(i).Load(); i != slot && w != 0 && w != me && procinfo.AliveWord(w) {
				r.slots.release(slot)
				return fmt.Errorf("%w: ring %q already has a producer (%v)", ErrBusy, r.name, procinfo.FromWord(w))
			}
		}
	}
	if r.multi {
		// The slot's last claim is no longer anybody's (see
		// claimResolved): one the tail never reached runs past it, over
		// space that others will claim, and a live owner's claim there
		// would keep the consumer from skipping a dead winner's.
		r.slots.word(slot, slotOffClaimEnd).Store(0)
	}
	r.setupProducer(slot, gen)
	return nil
}

// setupProducer starts this handle producing from slot.
func (r *vring) setupProducer(slot int, gen uint32) {
	r.p.slot, r.p.gen = slot, uint16(gen)
	r.p.headCache = r.head.Load()
	r.p.hdr = makeHeader(0, slot, recMessage, r.p.gen)
	r.p.padHdr = makeHeader(0, slot, recPadding, r.p.gen)
	if !r.multi {
		// The fast paths' state. Never written in an MPSC handle: its
		// goroutines test it without the handle's lock and go on to the
		// general path, which takes it.
		r.p.tail = r.tail.Load()
		r.p.published = r.p.tail
		r.p.maxRec = uint64(r.maxRec)
		r.p.fastMax = min(r.p.maxRec, alignMin-1)
		r.p.fastEnd = r.window(r.p.tail)
	}
	r.producersEver.Add(1)
}

// reservedMark in a producer slot's claim position marks a slot reserved
// for a child process that was handed the ring (package handoff): it
// belongs to the child from the moment the child starts, and the child's
// first write adopts it. No real claim starts there.
const reservedMark = ^uint64(0)

// adoptReserved takes the producer slot a parent reserved for this
// process, if there is one (-1 otherwise).
func (r *vring) adoptReserved() (int, uint32) {
	me := procinfo.Self().Word()
	for i := 0; i < r.slots.n; i++ {
		if r.slots.owner(i).Load() == me && r.slots.word(i, slotOffClaimPos).CompareAndSwap(reservedMark, 0) { // reserved for me -> mine
			return i, r.slots.gen(i).Add(1)
		}
	}
	return -1, 0
}

// reserveChild records the child process this ring is being handed to
// (package handoff) as a producer, when this handle is the ring's consumer:
// the child can only produce then. A handle that produces, or has taken
// no side yet, cannot tell what the child will do (it may produce beside
// it, or this process may consume later), and reserves nothing.
func (r *vring) reserveChild() {
	me := procinfo.Self().Word()
	standIn := procinfo.HandoffWord(me)
	if r.consumer.Load() == me && !r.c.closed {
		for i := 0; i < r.slots.n; i++ {
			w := r.slots.owner(i).Load()
			if w != 0 && (procinfo.AliveWord(w) || !r.claimResolved(i)) {
				continue
			}
			if r.slots.owner(i).CompareAndSwap(w, standIn) { // free or dead -> stand-in
				r.slots.word(i, slotOffClaimEnd).Store(0)
				r.slots.word(i, slotOffClaimPos).Store(reservedMark)
				handoff.Add(handoff.Slot{Word: r.slots.owner(i), StandIn: standIn})
				return
			}
		}
	}
}

// window returns the fast path's limit for an SPSC producer whose tail is
// tail: the end of the lap (a record must not wrap) or the cached head plus
// the capacity, whichever comes first. 0 (no fast path) for an MPSC ring,
// or when tail and the cached head are not a plausible pair: the general
// path then finds out what is wrong.
func (r *vring) window(tail uint64) uint64 {
	h := r.p.headCache
	if r.multi || tail%recordAlign != 0 || h > tail || tail-h > r.capacity {
		return 0
	}
	return min((tail|r.mask)+1, h+r.capacity)
}

// claimResolved reports whether slot i's last MPSC claim, [pos, end) in its
// claim words, can no longer cover a record its dead owner left unwritten,
// so that a successor may take the slot without the consumer losing track
// of that space. Call it only once the owner is known dead: its claim
// words are final then, and it makes no more CASes.
//
// Resolved when the consumer's head has passed end, or when the tail is
// below end. A won claim's CAS moved the tail from pos to end, and the
// tail only grows: a tail below end, read after the owner died, says the
// claim was never won. The owner died before its CAS, or lost it to a
// producer that claimed less from the same tail, and the space from pos is
// that producer's (or nobody's yet): the unwon claim covers none of it.
// The consumer's dead-claim skip (deadClaim) loses nothing when it goes:
// of the claims covering a zero header it takes the nearest end, which
// the winner's claim bounds, and the winner's slot stays held while the
// head is short of its end (a won claim never passes the tail's test). A
// claim with end at or below the tail may be won, or lost with the tail
// grown past it since; it waits for the head, which reaches the tail:
// below it lie records, padding and won claims, whose space the consumer
// skips once their owners are dead. So a consumer that has caught up
// with the tail leaves no dead owner's slot held. On a ring that no
// producer writes any more the head never passes an unwon claim's end:
// waiting for it, a new producer would wait for ever once every slot was
// held so; it takes one at once. A slot whose owner won a claim and wrote
// nothing there waits for the consumer's skip.
//
// The successor clears the claim (attachProducer) before it claims: an
// unwon claim runs past the tail, over space others will claim, and held
// by a live owner it would keep the consumer from skipping a dead
// winner's header there. Between the successor's CAS of the owner word
// and that store, a consumer may find the live owner's stale claim over
// its head and wait for its next poll. A consumer reading the two words
// as the successor rewrites them may pair the old pos with a new end: the
// nearest-end rule still lands within the winner's space, as every
// candidate's end is past the head.
func (r *vring) claimResolved(i int) bool {
	if !r.multi {
		return true
	}
	end := r.slots.word(i, slotOffClaimEnd).Load()
	return r.head.Load() >= end || r.tail.Load() < end
}

// leadFor is the padding that puts the payload of an n-byte record whose
// padding starts at pos on a cache line: 0 under alignMin, else 0..56.
func leadFor(pos, n uint64) uint64 {
	if n < alignMin {
		return 0
	}
	return (cacheLine - recordHeaderSize - pos) & (cacheLine - 1)
}

// place lays out an n-byte record of aligned size a at index idx: the
// padding before it (lead), whether it wraps (after padding to the end),
// and the bytes it takes from idx on. A record whose aligned placement
// could never fit (more than the capacity) goes unaligned.
func (r *vring) place(idx, a uint64, n int) (lead, need uint64, wraps bool) {
	toEnd := r.capacity - idx
	lead = leadFor(idx, uint64(n))
	if lead+a > toEnd {
		lead = leadFor(0, uint64(n))
		if toEnd+lead+a > r.capacity {
			lead = 0
		}
		return lead, toEnd + lead + a, true
	}
	return lead, lead + a, false
}

// tryReserve claims room for an n-byte record. It returns ok=false when the
// ring has no room now (the bytes wanted are left in r.p.need).
func (r *vring) tryReserve(n int) (buf []byte, ok bool, err error) {
	if n < 0 || n > r.maxRec {
		return nil, false, fmt.Errorf("%w: record of %d bytes, ring %q takes at most %d (capacity/2 - %d)", ErrTooLarge, n, r.name, r.maxRec, recordHeaderSize)
	}
	if r.p.res {
		panic("ringbuf: Reserve with a reservation outstanding")
	}
	if r.p.slot < 0 {
		if err := r.attachProducer(); err == errSlotPending {
			r.p.need = r.capacity + 1 // wait for the consumer to move
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
	}
	length := uint64(recordHeaderSize + n)
	a := alignRec(length)
	var tail, idx, lead, need uint64
	var wraps bool
	if !r.multi {
		tail = r.p.tail
		if tail%recordAlign != 0 {
			return nil, false, fmt.Errorf("%w: ring %q tail %d not %d-aligned", ErrCorrupt, r.name, tail, recordAlign)
		}
		idx = tail & r.mask
		lead, need, wraps = r.place(idx, a, n)
		if need > r.capacity-(tail-r.p.headCache) {
			h := r.head.Load() // observes: space released by the consumer
			if h > tail || tail-h > r.capacity || h%recordAlign != 0 {
				return nil, false, fmt.Errorf("%w: ring %q head %d, tail %d, capacity %d", ErrCorrupt, r.name, h, tail, r.capacity)
			}
			r.p.headCache = h
			r.p.fastEnd = r.window(tail)
			if need > r.capacity-(tail-h) {
				r.p.need = need
				r.flush() // the consumer frees space only for what it can see
				return nil, false, nil
			}
		}
	} else {
		claimPos := r.slots.word(r.p.slot, slotOffClaimPos)
		claimEnd := r.slots.word(r.p.slot, slotOffClaimEnd)
		for {
			tail = r.tail.Load()
			if tail%recordAlign != 0 {
				return nil, false, fmt.Errorf("%w: ring %q tail %d not %d-aligned", ErrCorrupt, r.name, tail, recordAlign)
			}
			idx = tail & r.mask
			lead, need, wraps = r.place(idx, a, n)
			if h := r.p.headCache; h > tail || tail-h > r.capacity || need > r.capacity-(tail-h) {
				h = r.head.Load() // observes: space released by the consumer
				if h > tail {
					// Our tail is stale; a tail read after this head is not.
					if t2 := r.tail.Load(); h > t2 {
						return nil, false, fmt.Errorf("%w: ring %q head %d past tail %d", ErrCorrupt, r.name, h, t2)
					}
					continue
				}
				if tail-h > r.capacity || h%recordAlign != 0 {
					return nil, false, fmt.Errorf("%w: ring %q head %d, tail %d, capacity %d", ErrCorrupt, r.name, h, tail, r.capacity)
				}
				r.p.headCache = h
				if need > r.capacity-(tail-h) {
					r.p.need = need
					// No claim while it waits for room: one it lost on
					// the way here covers the winner's space, and a live
					// claimant over a dead winner's unwritten header
					// would keep the consumer from skipping it (see
					// deadClaim), and so from making that room. Its last
					// won claim is committed, or cancelled: nothing it
					// covers needs it.
					claimEnd.Store(0)
					return nil, false, nil
				}
			}
			// Release stores: on amd64 the CAS below is a full barrier, so
			// the claim is visible before it (elsewhere storeRelease is
			// atomic.Store).
			(*pubWord)(claimPos).storeRelease(tail)
			(*pubWord)(claimEnd).storeRelease(tail + need)
			if r.tail.CompareAndSwap(tail, tail+need) { // claims [tail, tail+need)
				break
			}
		}
	}
	if r.multi {
		r.prefetchAhead(tail + need)
	}
	if wraps { // the record does not fit before the wrap: pad to the end
		r.writePad(idx, r.capacity-idx)
		idx = 0
	}
	if lead != 0 { // pad up to where the payload starts on a cache line
		r.writePad(idx, lead)
		idx += lead
	}
	if r.multi { // SPSC: nothing past the tail is seen, the header is written at Commit
		(*pubWord)(r.hdr(idx)).storeRelease(makeHeader(-int32(length), r.p.slot, recMessage, r.p.gen)) // publishes: record in progress
	}
	r.p.res, r.p.resIdx, r.p.resEnd = true, idx, tail+need
	r.p.resHdr = makeHeader(int32(length), r.p.slot, recMessage, r.p.gen)
	if !r.multi {
		r.p.fastEnd = 0 // no fast path while reserved
	}
	off := idx + recordHeaderSize
	return r.data[off : off+uint64(n) : off+uint64(n)], true, nil
}

// mpscAhead is how far past its claim an MPSC producer asks for the
// ring's lines for writing (prefetchAhead).
const mpscAhead = 256

// prefetchAhead asks for the lines past an MPSC claim that ends at pos for
// writing (PREFETCHW), mpscAhead bytes of them, within the room the
// producer last saw free, rounded down to a whole line: the next records
// go there, and the consumer, which zeroed them a lap ago, holds them. The
// claim's CAS waits for the stores before it, and a store to a line
// another core holds waits for the line: fetched while this record is
// written, the next record's lines are at hand when its CAS comes
// (BenchmarkProducers/mpsc, Write per message, 3 interleaved passes, slow
// state: 1 / 3 / 8 producers 5.8-6.1 / 7.6-9.4 / 9.5-10.5 M msgs/s
// without, 9.9-10.4 / 11.3-18.7 / 11.6-19.7 with 256 bytes; 128 and 512
// did less; the fast state the same within 10%). Never onto a line that
// holds a record still to be read: the consumer would fetch it back.
func (r *vring) prefetchAhead(pos uint64) {
	h := r.p.headCache
	if pos < h || pos-h >= r.capacity {
		return
	}
	lim := (h + r.capacity) &^ (cacheLine - 1) // the first line that may hold the head's record
	if lim <= pos {
		return
	}
	idx := pos & r.mask
	prefetch.Write(unsafe.Pointer(&r.data[idx]), int(min(mpscAhead, r.capacity-idx, lim-pos)))
}

// writePad writes a padding record of n bytes at idx: SPSC, plainly (the
// tail publishes it at Commit); MPSC, published at once, below the claim.
func (r *vring) writePad(idx, n uint64) {
	if r.multi {
		(*pubWord)(r.hdr(idx)).storeRelease(r.p.padHdr | n) // publishes: padding
		return
	}
	*plain64(r.data, idx) = r.p.padHdr | n
}

// commit publishes the outstanding reservation.
func (r *vring) commit() {
	if !r.p.res {
		panic("ringbuf: Commit without Reserve")
	}
	r.p.res = false                                        // MPSC: Commit publishes an SPSC record itself
	(*pubWord)(r.hdr(r.p.resIdx)).storeRelease(r.p.resHdr) // publishes: record committed, its payload before it
	r.c.wait.wake()
}

// flush publishes the SPSC producer's committed records: one store of the
// tail, then a wake if a consumer sleeps.
func (r *vring) flush() {
	if r.p.tail != r.p.published {
		r.p.published = r.p.tail
		(*pubWord)(r.tail).storeRelease(r.p.tail) // publishes: SPSC records up to the tail, headers and payloads
		r.c.wait.wake()
	}
}

// cancel turns the outstanding reservation into padding.
func (r *vring) cancel() {
	if !r.p.res {
		panic("ringbuf: Cancel without Reserve")
	}
	r.p.res = false
	if !r.multi {
		r.p.fastEnd = r.window(r.p.tail)
		return // SPSC: nothing was published; the space is reused
	}
	length, slot, _, gen := splitHeader(r.p.resHdr)
	r.hdr(r.p.resIdx).Store(makeHeader(int32(alignUp(int(length), recordAlign)), slot, recPadding, gen)) // publishes: record withdrawn
	r.c.wait.wake()
}

// spaceFor reports whether r.p.need bytes are free at the tail, or (MPSC)
// this handle's CloseWrite has begun: the wait for room is over either way.
func (r *vring) spaceFor() bool {
	if r.multi && r.closing.Load() {
		return true
	}
	var t uint64
	if r.multi {
		t = r.tail.Load()
	} else {
		t = r.p.tail
	}
	h := r.head.Load()
	return h > t || r.capacity-(t-h) >= r.p.need || t-h > r.capacity
}

// reserve is the blocking form of tryReserve.
func (r *vring) reserve(ctx context.Context, n int) ([]byte, error) {
	for {
		buf, ok, err := r.tryReserve(n)
		if ok || err != nil {
			return buf, err
		}
		if !r.multi {
			r.flush() // the consumer frees space only for what it can see
		}
		err = r.p.wait.wait(ctx, r.spaceFor, r.consumerClosed)
		if r.multi && r.closing.Load() {
			return nil, fmt.Errorf("%w: ring %q: CloseWrite while waiting for room", ErrClosed, r.name)
		}
		if err == errPoll || err == nil {
			// Woken: look for a closed consumer (cheap); every poll
			// period: for a dead one too (reads /proc).
			if perr := r.consumerGone(err == errPoll); perr != nil {
				return nil, perr
			}
			continue
		}
		return nil, err
	}
}

// consumerGone says why no consumer will ever make room: ErrPeerDead if the
// attached consumer died (looked for only when alive is set), ErrClosed if
// it closed its end. nil while one lives or none has attached yet.
func (r *vring) consumerGone(alive bool) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if r.shared.Load() != 0 {
		return nil // consumers take turns: none now is not none ever
	}
	w := r.consumer.Load()
	switch {
	case alive && w != 0 && !procinfo.AliveWord(w):
		return fmt.Errorf("%w: consumer of ring %q (%v) is dead", ErrPeerDead, r.name, procinfo.FromWord(w))
	case w == 0 && r.consumerEver.Load() != 0:
		return fmt.Errorf("%w: consumer of ring %q closed its end", ErrClosed, r.name)
	}
	return nil
}

// consumerClosed reports what ends a producer's wait for room without
// room (waitSide.wait's settle): CloseWrite on this handle (MPSC), or a
// consumer that closed its end, or this handle closed (consumerGone
// without its look in /proc).
func (r *vring) consumerClosed() bool {
	return r.multi && r.closing.Load() || r.consumerGone(false) != nil
}

// lockProducer takes an MPSC handle's producer lock for a call under ctx
// (tryNow for a Try call; context.Background: as long as it takes), or
// returns why it did not (see handleLock.LockCall).
func (r *vring) lockProducer(ctx context.Context) error {
	if r.multi {
		return r.p.mu.LockCall(ctx)
	}
	return nil
}

func (r *vring) unlockProducer() {
	if r.multi {
		r.p.mu.Unlock()
	}
}

// ---- consumer side ----

func (r *vring) attachConsumer() error {
	if r.closed.Load() || r.c.closed {
		return ErrClosed
	}
	if w, ok := r.takeConsumer(); !ok {
		return fmt.Errorf("%w: ring %q already has a consumer (%v)", ErrBusy, r.name, procinfo.FromWord(w))
	}
	r.setupConsumer()
	return nil
}

// takeConsumer makes this process the ring's consumer if no other live
// process is; otherwise it returns the holder's word.
func (r *vring) takeConsumer() (holder uint64, ok bool) {
	me := procinfo.Self().Word()
	for {
		w := r.consumer.Load()
		if w == me {
			return w, true // mine, or reserved for me when I was handed the ring
		}
		if w != 0 && procinfo.AliveWord(w) {
			return w, false
		}
		if r.consumer.CompareAndSwap(w, me) { // none or dead -> me
			return me, true
		}
	}
}

// setupConsumer starts this handle reading where the ring's head is.
func (r *vring) setupConsumer() {
	r.consumerEver.Store(1)
	// A predecessor that died while zeroing freed space: finish.
	if h, z, t := r.head.Load(), r.zeroEnd.Load(), r.tail.Load(); z > h && z <= t && t-h <= r.capacity && (h|z)%recordAlign == 0 {
		r.zeroRange(h, z-h)
		r.head.Store(z) // publishes: space freed and zeroed
	}
	r.c.head = r.head.Load()
	r.c.tailCache, r.c.published = r.c.head, r.c.head
	r.c.attached = true
}

// next finds the next message record at or after the consumer's head,
// skipping padding and, when slow is set, records abandoned by dead
// producers. It returns the record's index and aligned size with the head
// moved past whatever it skipped (and published if it moved).
// ok=false: nothing to read now.
func (r *vring) next(slow bool) (idx, a uint64, ok bool, err error) {
	if !r.c.attached {
		if err := r.attachConsumer(); err != nil {
			return 0, 0, false, err
		}
	}
	idx, a, ok, err = r.scan(slow)
	if !ok {
		r.publish() // about to wait, or an error: let producers have the space
	}
	return idx, a, ok, err
}

// scan is next without the final publication.
func (r *vring) scan(slow bool) (idx, a uint64, ok bool, err error) {
	for {
		head := r.c.head
		if head == r.c.tailCache && r.multi && !slow && !r.committedAt(head) {
			return 0, 0, false, nil // nothing to read yet; a poll (slow) reads the tail
		}
		if head == r.c.tailCache {
			t := r.tail.Load() // observes: claimed space (SPSC: with headers written)
			if t < head || t-head > r.capacity || (t|head)%recordAlign != 0 {
				return 0, 0, false, fmt.Errorf("%w: ring %q tail %d, head %d, capacity %d", ErrCorrupt, r.name, t, head, r.capacity)
			}
			r.c.tailCache = t
			if t == head {
				if slow {
					err = r.producersGone()
				}
				return 0, 0, false, err
			}
		}
		idx = head & r.mask
		h := r.hdr(idx).Load() // observes: record in progress / committed
		length, slot, typ, gen := splitHeader(h)
		abs := length
		if abs < 0 {
			abs = -abs
		}
		if length != 0 {
			a = uint64(alignUp(int(abs), recordAlign))
			if abs < recordHeaderSize || a > r.capacity-idx || a > r.c.tailCache-head || (typ != recMessage && typ != recPadding) || slot >= r.slots.n {
				return 0, 0, false, fmt.Errorf("%w: ring %q record header %#016x at %d (head %d, tail %d)", ErrCorrupt, r.name, h, idx, head, r.c.tailCache)
			}
		}
		switch {
		case length > 0 && typ == recMessage:
			r.c.recLen = uint64(length) // validated: the header may change under us
			return idx, a, true, nil
		case length > 0: // padding
			r.advance(head + a)
			continue
		case length < 0:
			if slow && r.abandoned(slot, gen) {
				r.advance(head + a)
				continue
			}
		default: // 0: claimed, header not yet written (MPSC only)
			if !r.multi {
				return 0, 0, false, fmt.Errorf("%w: ring %q zero record header at %d below tail %d", ErrCorrupt, r.name, head, r.c.tailCache)
			}
			if slow {
				end, dead, cerr := r.deadClaim(head)
				if cerr != nil {
					return 0, 0, false, cerr
				}
				if dead {
					r.advance(end)
					continue
				}
			}
		}
		return 0, 0, false, nil
	}
}

// committedAt reports whether the header at head shows a record (or
// padding) committed, or the head is out of line (corrupt: scan's checks
// of the tail report it). An MPSC consumer that has caught up with its
// cached tail looks there first, and reads the tail only when it finds
// one: every byte from the head on is zero until a producer of this lap
// writes it (the consumer zeroes what it frees before it publishes the
// head), and the tail is the line every producer's claim CASes. Read at
// each look of a consumer that has caught up with a stream, it went back
// and forth between the cores about once a message
// (BenchmarkProducers/mpsc, one Write a message, 3 passes, slow state:
// 4.8-5.5, 6.4-6.8, 6.0-7.5 M msgs/s with 1, 3 and 8 producers reading
// the tail first, 5.9-6.8, 8.7-10.2, 10.1-11.1 looking at the header
// first; mpsc-batch unchanged within its noise). A header that looks
// committed is checked against the tail before it is believed.
func (r *vring) committedAt(head uint64) bool {
	return head%recordAlign != 0 || int32(uint32(r.hdr(head&r.mask).Load())) > 0 // observes: record committed
}

// zeroRange clears the n bytes from position pos (wrapping), so that an
// MPSC header claimed but not yet written reads as 0 in the next lap. An
// MPSC consumer clears a span of mpscAroundMin bytes or more around the
// caches (see mpscAroundMin).
func (r *vring) zeroRange(pos, n uint64) {
	around := r.multi && n >= mpscAroundMin
	for n > 0 {
		idx := pos & r.mask
		k := min(n, r.capacity-idx)
		if around {
			memcopy.ClearAround(r.data[idx : idx+k])
		} else {
			clear(r.data[idx : idx+k])
		}
		pos, n = pos+k, n-k
	}
}

// mpscAroundMin: an MPSC consumer that frees this much or more at once (a
// batch: ReadBatch publishes its head once a quarter of the ring is used,
// and when it returns; or a Read of a record that long; both pieces of a
// span that wraps go the same way) zeroes it with non-temporal stores
// (memcopy.ClearAround), so that the lines go to memory rather than stay
// modified in its cache, where each producer's store of the next lap had
// to fetch them from it. The producers' stores then miss to memory, which
// their prefetchers stream ahead. Measured with BenchmarkProducers/
// mpsc-batch (64 B records, 4 interleaved passes, AMD EPYC VM), M msgs/s:
// with one producer 63-95 zeroing through the cache, 95-136 around it;
// with 2 to 8 producers medians of 92-100 against 90-103. Around the
// caches every run of that A/B was 2.6-3.4x the bufio socket of its pass.
// Reading short records one at a time (Read), a span is a record or two,
// partly on lines still being written: those stores go through the cache
// as before. An SPSC consumer, which zeroes for the cache only (see
// spscZeroMax), keeps clear: zeroing around the caches, its
// Stream/ring-batch fell from 124-129 M msgs/s to 75-81 in 3 interleaved
// passes.
const mpscAroundMin = 1 << 10

// spscZeroMax: an SPSC consumer zeroes the space it frees, as an MPSC
// consumer must, while the record it found last is at most this long. No
// reader needs the zeros; the stores are for the cache. The likely
// mechanism (this VM exposes no performance counters to confirm it): a
// line the consumer only read stays shared between the two cores, and the
// producer's store to it in the next lap waits in the store buffer for the
// consumer's copy to be invalidated, line after line; a line the consumer
// wrote is gone from the producer's cache, a miss its prefetcher fetches
// ahead of the stores. Measured (BenchmarkStream, 64 B records, medians
// of 5 rotated runs per build, the VM in its slow state): ring-batch
// 38.6 M msgs/s without, 147.5 M with; ring-reserve 27.6 M, 105 M. Past a
// few KiB the consumer of a record in place may not read all of it, and
// writing every line would pull the lines it left in the producer's cache.
const spscZeroMax = 4 << 10

// spscZeroMin: an SPSC consumer zeroes what it frees only when it frees at
// least this much at once (a batch: ReadBatch, PeekBatch): freeing record
// by record (Read), it would write each line just read while the producer
// still writes the next records on it (Stream/size=8/ring-copy, same runs:
// 34-36 M msgs/s without zeroing, 7-9 M zeroing every record).
const spscZeroMin = 1 << 10

// advance moves the consumer's head past consumed bytes and publishes it:
// at once, or, inside ReadBatch, once a quarter of the ring has been
// consumed since the last publication (and when the batch ends).
func (r *vring) advance(head uint64) {
	r.c.head = head
	if !r.c.batching || head-r.c.published >= r.capacity/4 {
		r.publish()
	}
}

// publish stores the consumer's head in the ring and wakes producers
// waiting for space.
func (r *vring) publish() {
	if r.c.head != r.c.published {
		if r.multi || r.c.recLen <= spscZeroMax && r.c.head-r.c.published >= spscZeroMin {
			// Zero what is freed (MPSC: needed, see zeroRange; SPSC: see
			// spscZeroMax). zeroEnd says how far first, so that a
			// successor of a consumer that dies while zeroing finishes
			// the job (see setupConsumer) instead of finding a hole.
			r.zeroEnd.Store(r.c.head)
			r.zeroRange(r.c.published, r.c.head-r.c.published)
		}
		r.c.published = r.c.head
		// A release store suffices: the consumer's loads of the freed
		// bytes and its zeroing stores (MPSC) come before it.
		(*pubWord)(r.head).storeRelease(r.c.head) // publishes: space freed (MPSC: zeroed)
		r.p.wait.wake()
	}
}

// abandoned reports whether the in-progress record written by slot with
// gen belongs to a producer that is gone: dead, detached, or succeeded.
func (r *vring) abandoned(slot int, gen uint16) bool {
	w := r.slots.owner(slot).Load()
	if w == 0 || uint16(r.slots.gen(slot).Load()) != gen {
		return true
	}
	return !procinfo.AliveWord(w)
}

// deadClaim looks for the producer whose claim covers pos, where the ring
// holds a claimed but unwritten header. dead=true with end when every
// claimant is dead (then the one that won the CAS is among them); a live
// claimant means the record is still coming, and so does a header at pos
// that is no longer 0 once the claims are read. (A live producer that lost
// its CAS claims again at once, or clears its claim to wait for room: it
// holds a lost claim only for moments.)
//
// end is the nearest end of the dead claims: a claimant killed after it
// lost its CAS left a claim from the same tail that may reach past the
// winner's, into records written since. The winner wrote nothing (its
// header is 0), so every byte of its space reads 0 and an end short of
// its own lands there: the next look finds a 0 header that the winner's
// claim covers, and goes on from there. A 0 header that neither a live
// producer's claim nor a dead one's that a CAS can have won covers is
// ErrCorrupt.
func (r *vring) deadClaim(pos uint64) (end uint64, dead bool, err error) {
	if deadClaimHook != nil {
		deadClaimHook()
	}
	tail := r.c.tailCache
	for i := 0; i < r.slots.n; i++ {
		p, e := r.slots.word(i, slotOffClaimPos).Load(), r.slots.word(i, slotOffClaimEnd).Load()
		if p > pos || pos >= e {
			continue
		}
		w := r.slots.owner(i).Load()
		if w != 0 && procinfo.AliveWord(w) {
			return 0, false, nil
		}
		if e > tail || e-pos > r.capacity || e%recordAlign != 0 {
			continue // a stale claim that lost its CAS
		}
		if !dead || e < end {
			end, dead = e, true
		}
	}
	if r.hdr(pos&r.mask).Load() != 0 {
		// The winner was alive: it wrote its header, then claimed again
		// (its claim words moved on) while we read the claims.
		return 0, false, nil
	}
	if !dead {
		// Still 0, and no live claim covers it, nor a dead one that a
		// CAS can have won: the winner stored its claim before the CAS
		// that moved the tail past pos (read before this), and keeps it
		// until it has written the header (its next claim comes after
		// its Commit or Cancel; a successor clears a dead one's claim
		// only once the head has passed it). That CAS moved the tail
		// from at most pos to the claim's end, and the tail read since is
		// past pos, so the end is at or below it: a claim that runs past
		// the tail lost its CAS. Corrupt: waited for, it never came
		// (TestUncoveredZeroHeaderIsCorrupt).
		return 0, false, fmt.Errorf("%w: ring %q record header at %d (tail %d) is 0 and no claim a producer can have won covers it", ErrCorrupt, r.name, pos, tail)
	}
	return end, dead, nil
}

// deadClaimHook, when set (tests), runs as deadClaim begins: after the
// consumer found the header at its head 0, before it reads the claims.
var deadClaimHook func()

// producersGone says why no producer will ever write: io.EOF when every
// producer that attached has closed its end, ErrPeerDead when none lives
// and one died. nil while one lives or none has attached yet.
func (r *vring) producersGone() error {
	if r.allDetached() {
		return io.EOF
	}
	// A slot reserved for a child handed the ring counts before the child
	// has written (producersEver still 0): a child dead before attaching
	// is a dead producer.
	live, dead := r.slots.liveness(nil)
	switch {
	case live:
		return nil
	case dead:
		return fmt.Errorf("%w: every producer of ring %q is gone, one died", ErrPeerDead, r.name)
	case r.producersEver.Load() == 0:
		return nil
	}
	return io.EOF
}

// allDetached reports, without reading /proc, whether producers have
// attached and every one of them has closed its end.
func (r *vring) allDetached() bool {
	if r.producersEver.Load() == 0 {
		return false
	}
	for i := 0; i < r.slots.n; i++ {
		if r.slots.owner(i).Load() != 0 {
			return false
		}
	}
	return true
}

// dataReady reports whether a committed record (or padding) waits at head.
func (r *vring) dataReady() bool {
	head := r.c.head
	if r.multi {
		// The header first, the tail only once it shows a record (see
		// committedAt): a waiter that looked at the tail at every look
		// took its line from the producers each time. The tail, as in
		// scan: a header past it is not a record (only corrupt memory
		// holds one), and a wait that took it for one would not sleep.
		return r.committedAt(head) && r.tail.Load() != head // observes: claimed space
	}
	t := r.tail.Load() // observes: committed records
	// The tail alone decides, but load the header too: the two misses
	// overlap, and the record's line is at hand when the tail moves (p50
	// of a ping-pong: 340 -> 260 ns here). Its value is unused: an SPSC
	// producer writes it plainly until the tail publishes it.
	if !raceEnabled {
		r.hdr(head & r.mask).Load()
	}
	return t != head
}

// waitNext is the blocking form of next.
//
// mayLull says whether the read may lull when streaming (see lull): a
// read of one record (Read, Peek), or a ReadBatch whose last run was
// shorter than lullRun records, as a consumer chasing producers that
// commit record by record gets. Runs that producers commit whole
// (WriteBatch) cost the consumer's look at the head a line per run, and a
// lull only held it back while the ring filled (BenchmarkProducers/
// mpsc-batch, one producer: 100 -> 67 M msgs/s when every ReadBatch
// lulled). A PeekBatch (SPSC) never lulls.
func (r *vring) waitNext(ctx context.Context, mayLull bool) (idx, a uint64, err error) {
	slow, settled, lulled := false, false, false
	for first := true; ; first = false {
		idx, a, ok, err := r.next(slow)
		if ok || err != nil {
			r.c.streaming = ok && (first || lulled)
			if r.c.streaming {
				r.c.found++
			}
			return idx, a, err
		}
		if first && mayLull && r.c.streaming && r.multi && ctx.Err() == nil {
			r.c.learnLull()
			r.c.lull()
			lulled = true
			continue
		}
		lulled = false
		// The wait ends once every producer has closed, unless the look
		// just made was for that: it found a record it can neither read
		// nor skip (only corrupt memory leaves one then), and ending the
		// wait at once would look again at once, in a loop. It waits for
		// data or the poll then.
		settle := r.allDetached
		if settled {
			settle = nil
		}
		err = r.c.wait.wait(ctx, r.dataReady, settle)
		settled = false
		switch err {
		case nil:
			slow = false
		case errPoll:
			slow = true
		default:
			r.c.streaming = false // its next wait did not find a record at once either
			return 0, 0, err
		}
		if !slow && !r.dataReady() && r.allDetached() {
			slow, settled = true, true // woken with nothing to read: the last producer closed
		}
	}
}

// tryNext is next for the calls that do not wait (TryPeek, TryRead,
// TryReadBatch, TryPeekBatch). next's slow path looks for dead producers in
// /proc, 16 µs and 9 allocations here, and a consumer may poll an empty
// ring in a loop. So on an empty ring it takes the slow path only when
// every producer has closed its end (io.EOF at once, without /proc), or
// when the last look is a poll period old (WithPoll), as a blocked call
// does: a dead producer goes unnoticed at most that long.
func (r *vring) tryNext() (idx, a uint64, ok bool, err error) {
	idx, a, ok, err = r.next(false)
	if ok || err != nil {
		return idx, a, ok, err
	}
	if now := spin.Now(); now >= r.c.lookDue {
		r.c.lookDue = now + int64(r.opt.poll)
	} else if !r.allDetached() {
		return idx, a, ok, err
	}
	return r.next(true)
}

// peekAt records idx/a as the peeked record and returns its payload.
func (r *vring) peekAt(idx, a uint64) []byte {
	if r.c.peekA == 0 {
		r.c.peekIdx, r.c.peekA, r.c.peekLen = idx, a, r.c.recLen
	}
	return r.data[idx+recordHeaderSize : idx+r.c.peekLen : idx+r.c.peekLen]
}

// notBatching panics if a Batch is outstanding (see PeekBatch).
func (r *vring) notBatching() {
	if r.c.peekA == batchPeeked {
		panic("ringbuf: Peek, Read or Discard while a batch is peeked (DiscardBatch first)")
	}
}

// tryPeek is TryPeek; slow=false leaves out next's slow path (TryPeekQuick).
func (r *vring) tryPeek(slow bool) ([]byte, bool, error) {
	if r.c.peekA != 0 {
		r.notBatching()
		return r.peekAt(r.c.peekIdx, r.c.peekA), true, nil
	}
	var idx, a uint64
	var ok bool
	var err error
	if slow {
		idx, a, ok, err = r.tryNext()
	} else {
		idx, a, ok, err = r.next(false)
	}
	if !ok {
		return nil, false, err
	}
	return r.peekAt(idx, a), true, nil
}

func (r *vring) peek(ctx context.Context) ([]byte, error) {
	if r.c.peekA != 0 {
		r.notBatching()
		return r.peekAt(r.c.peekIdx, r.c.peekA), nil
	}
	idx, a, err := r.waitNext(ctx, true)
	if err != nil {
		return nil, err
	}
	return r.peekAt(idx, a), nil
}

func (r *vring) releasePeek() {
	if r.c.peekA == 0 {
		panic("ringbuf: Discard without Peek")
	}
	r.notBatching()
	head := r.c.head + r.c.peekA
	r.c.peekA = 0
	r.advance(head)
}

// fastNext finds a committed message at the head below the cached tail,
// with scan's checks in short; ok=false sends the caller to next. The
// checks keep every access inside data whatever the header holds; a record
// that fails them (padding, in progress, garbage) is next's to judge.
func (r *vring) fastNext() (idx, a uint64, ok bool) {
	head := r.c.head
	if head >= r.c.tailCache || r.c.peekA != 0 { // tailCache > head: attached
		return 0, 0, false
	}
	idx = head & r.mask
	h := r.hdr(idx).Load() // observes: record committed
	length := uint64(uint32(h))
	a = (length + recordAlign - 1) &^ (recordAlign - 1)
	if uint8(h>>40) != recMessage || length < recordHeaderSize || a > r.c.tailCache-head || a > r.capacity-idx {
		return 0, 0, false
	}
	r.c.recLen = length
	return idx, a, true
}

// readInto copies the next record into buf.
func (r *vring) readInto(ctx context.Context, buf []byte) (int, error) {
	if idx, a, ok := r.fastNext(); ok && r.c.recLen-recordHeaderSize <= uint64(len(buf)) {
		n := memcopy.CopyOut(buf, r.data[idx+recordHeaderSize:idx+r.c.recLen])
		r.c.head += a
		r.publish()
		if r.c.streaming {
			r.c.found++ // found at once (see learnLull)
		}
		return n, nil
	}
	peeked := r.c.peekA != 0 // the caller's Peek, which a short buffer must not undo (as in TryRead)
	rec, err := r.peek(ctx)
	if err != nil {
		return 0, err
	}
	if len(rec) > len(buf) {
		if !peeked {
			r.c.peekA = 0 // the record stays, unpeeked: the head has not moved
		}
		return len(rec), fmt.Errorf("%w: record of %d bytes, buffer of %d", ErrShortBuffer, len(rec), len(buf))
	}
	n := memcopy.CopyOut(buf, rec)
	r.releasePeek()
	return n, nil
}

// prefetchAhead is how far ahead of its head ReadBatch asks for the
// published records' cache lines, prefetchBlock how much it asks for at a
// time (measured here: 64 B records, 2/1 KiB 11-13 ns a record, 4/2 KiB
// 9.5-11, 8/4 KiB 9.4-12; no difference at 4 KiB). A batch reads its
// records one after the other, each header's position known only once the
// previous header is in: without the hint every record waits for its own
// line transfer from the producer's core.
const (
	prefetchAhead = 4 << 10
	prefetchBlock = 2 << 10
)

// prefetch asks for the lines of published records from head (or where the
// last request ended) up to to, never past the cached tail (the producer
// may still be writing there) nor across the wrap. Not in MPSC rings, whose
// producers may still be writing below the tail: taking their lines away
// would slow them down.
func (r *vring) prefetch(head, to uint64) {
	if r.multi {
		r.c.pfEnd = r.c.tailCache
		return
	}
	from := max(r.c.pfEnd, head)
	to = min(to, r.c.tailCache)
	if to <= from || to-from > r.capacity {
		r.c.pfEnd = to
		return
	}
	idx := from & r.mask
	n := min(to-from, r.capacity-idx)
	prefetch.Lines(unsafe.Pointer(&r.data[idx]), int(n))
	r.c.pfEnd = from + n
}

// batch hands every committed record to fn until fn returns false or none
// is left, publishing the head once per quarter ring and at the end rather
// than per record.
func (r *vring) batch(ctx context.Context, block bool, fn func(rec []byte) bool) (int, error) {
	if r.c.peekA != 0 {
		panic("ringbuf: ReadBatch while a record or batch is peeked")
	}
	var idx, a uint64
	var err error
	var ok bool
	if block {
		idx, a, err = r.waitNext(ctx, r.c.lastRun < lullRun)
		ok = err == nil
	} else {
		idx, a, ok, err = r.tryNext()
	}
	if !ok {
		return 0, err
	}
	r.c.batching = true
	defer func() {
		r.c.batching = false
		r.publish()
	}()
	n := 0
	quarter := r.capacity / 4
	for {
		length := r.c.recLen
		more := fn(r.data[idx+recordHeaderSize : idx+length : idx+length])
		n++
		head := r.c.head + a
		r.c.head = head
		if head-r.c.published >= quarter {
			r.publish()
		}
		if !more {
			break
		}
		if head+prefetchAhead > r.c.pfEnd && r.c.pfEnd < r.c.tailCache {
			r.prefetch(head, head+prefetchAhead+prefetchBlock)
		}
		if head < r.c.tailCache { // fastNext, inline: a call per record costs more than the test
			idx = head & r.mask
			h := r.hdr(idx).Load() // observes: record committed
			length = uint64(uint32(h))
			a = (length + recordAlign - 1) &^ (recordAlign - 1)
			if uint8(h>>40) == recMessage && length >= recordHeaderSize && a <= r.c.tailCache-head && a <= r.capacity-idx {
				r.c.recLen = length
				continue
			}
		}
		idx, a, ok, err = r.next(false)
		if !ok {
			break
		}
	}
	r.c.lastRun = n
	if r.c.streaming && n > 1 {
		r.c.found += n - 1 // the first was counted by waitNext
	}
	return n, err
}
