package ringbuf

import (
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/ringx"
)

// The machinery packages queue and pipe reach through internal/ringx: they
// wait on futex words of their own (so that their Shutdown, Close, bounds
// and peer checks can wake their waiters) and so need a try that stays
// cheap on an empty ring and the rescue the ring's waits run every poll
// period, as separate calls. vringX and mpmcX carry those methods so that
// they are not part of the rings' API.

type (
	vringX vring
	mpmcX  MPMC
)

func init() {
	ringx.ConsumerOf = func(ring any) ringx.Consumer { return vringOf(ring, "ConsumerOf") }
	ringx.ProducerOf = func(ring any) ringx.Producer { return vringOf(ring, "ProducerOf") }
	ringx.MPMCOf = func(ring any) ringx.MPMC { return (*mpmcX)(ring.(*MPMC)) }
	ringx.Sane = sane
	ringx.MPMCBodySize = mpmcBodySize
	ringx.CheckMPMC = checkMPMC
	ringx.SPSCBodySize = func(capacity int) int { return vringBodySize(capacity, spscSlots) }
	ringx.CheckSPSC = func(capacity int) error { return checkVring(capacity, spscSlots) }
}

// vringOf returns the machinery of an *SPSC or *MPSC; what names the
// caller for the panic on any other ring.
func vringOf(ring any, what string) *vringX {
	switch r := ring.(type) {
	case *SPSC:
		return (*vringX)(&r.vring)
	case *MPSC:
		return (*vringX)(&r.vring)
	}
	panic(fmt.Sprintf("ringbuf: %s(%T)", what, ring))
}

// sane checks the invariants of any ring (see ringx.Sane).
func sane(ring any) error {
	switch r := ring.(type) {
	case *SPSC:
		return r.sane()
	case *MPSC:
		return r.sane()
	case *MPMC:
		return r.sane()
	}
	panic(fmt.Sprintf("ringbuf: Sane(%T)", ring))
}

// RescueEmpty is what a Get blocked on an empty ring runs every poll
// period: a slot claimed by a producer that died before filling it is
// marked abandoned, so that consumers move past it, and a message claimed
// by a consumer that died before taking it is made ready for adoption by
// this handle's next Get. retry reports that either happened (try the Get
// again). It returns io.EOF or ErrPeerDead when no producer is alive (see
// Get).
func (r *mpmcX) RescueEmpty() (retry bool, err error) {
	m := (*MPMC)(r)
	m.getMu.Lock()
	defer m.getMu.Unlock()
	seq := m.seq(m.deq.Load()).Load()
	err = m.rescueEmpty()
	return m.adoptDue.Load() || m.seq(m.deq.Load()).Load() != seq, err
}

// RescueFull is what a Put blocked on a full ring runs every poll period:
// slots at the head that dead producers claimed and never filled are
// skipped, so that a ring at its limit takes messages again; retry reports
// that a slot was freed. It returns ErrPeerDead or ErrClosed when no
// consumer is alive (see Put).
func (r *mpmcX) RescueFull() (retry bool, err error) {
	m := (*MPMC)(r)
	m.putMu.Lock()
	defer m.putMu.Unlock()
	return m.rescueFull()
}

// HasData reports whether a Get may find a message now (see ringx.MPMC).
func (r *mpmcX) HasData() bool { return (*MPMC)(r).hasData() }

// ClaimPut takes this handle's producer lock and claims the next free
// slot under it, for a caller that fills and publishes the slot itself
// (see ringx.MPMC): ok reports both, and false holds nothing: the ring
// full (or at its limit), err, a handle that is not a producer yet or is
// closing (it never attaches, which Close could race, and never maps
// anything), or stop not 0, which the caller's general path sorts out.
func (r *mpmcX) ClaimPut(stop *atomic.Uint32) (pos uint64, slot []byte, ok bool, err error) {
	m := (*MPMC)(r)
	if !m.lockAttached(roleProducer, &m.putMu) {
		return 0, nil, false, nil
	}
	if stop.Load() != 0 { // observes: the caller's stop (a queue's Shutdown), under the lock that keeps the mapping
		m.putMu.Unlock()
		return 0, nil, false, nil
	}
	if m.enqSole.own { // the sole producer's plain claim, one call nearer (see ClaimGet)
		if pos, ok := m.soleClaimPut(m.parts.word(m.part, partOffEnqClaim)); ok {
			return pos, m.payload(pos), true, nil
		}
	}
	if pos, ok, err = m.tryClaimPut(noWait); !ok {
		m.putMu.Unlock()
		return 0, nil, false, err
	}
	return pos, m.payload(pos), true, nil
}

// PublishPut hands slot pos, filled with n bytes (0..SlotBytes), to the
// consumers, runs wake, and releases the producer lock ClaimPut took:
// wake may still touch the mapping the lock keeps.
func (r *mpmcX) PublishPut(pos uint64, n int, wake func()) {
	m := (*MPMC)(r)
	m.publishPut(pos, n)
	wake()
	m.putMu.Unlock()
}

// ClaimGet is ClaimPut for consumers: it takes the consumer lock and
// claims the next message, as TryGetFunc does, once the sole consumer has
// kept its distance from a stream (keepBehind: at most
// ringx.BehindWindow, once every ringx.BehindEvery calls).
func (r *mpmcX) ClaimGet() (pos uint64, msg []byte, ok bool, err error) {
	m := (*MPMC)(r)
	if !m.lockAttached(roleConsumer, &m.getMu) {
		return 0, nil, false, nil
	}
	m.keepBehind()
	// The sole consumer's common case, two calls nearer than getClaimed's
	// (a dozen calls of a few nanoseconds each are most of a Get that
	// does not miss): no adopted run to deliver first, a plain claim, a
	// length in bounds. Anything else, the slot claimed or not, goes on
	// through getClaimed's loop, which sorts it out.
	if m.deqSole.own && m.adoptNext >= m.adoptEnd {
		if pos, ok := m.soleClaimGet(m.parts.word(m.part, partOffDeqClaim)); ok {
			if l := m.length(pos).Load(); l <= uint32(m.slotBytes) {
				return pos, m.payload(pos)[:l], true, nil
			}
			if pos, n, ok, err := m.checkClaimed(pos); ok || err != nil {
				if !ok {
					m.getMu.Unlock()
					return 0, nil, false, err
				}
				return pos, m.payload(pos)[:n], true, nil
			}
		}
	}
	pos, n, ok, err := m.getClaimed(noWait)
	if !ok {
		m.getMu.Unlock()
		return 0, nil, false, err
	}
	return pos, m.payload(pos)[:n], true, nil
}

// ReleaseGet gives slot pos back to the producers once its message is
// used, runs wake, and releases the consumer lock ClaimGet took.
func (r *mpmcX) ReleaseGet(pos uint64, wake func()) {
	m := (*MPMC)(r)
	m.releaseGet(pos)
	wake()
	m.getMu.Unlock()
}

// OnGivenUp sets what runs on the payload of each given-up slot this
// handle's consumer side skips (see ringx.MPMC).
func (r *mpmcX) OnGivenUp(f func(payload []byte)) { r.givenUp = f }

// HasDataAt reports whether n messages look queued now (see ringx.MPMC).
func (r *mpmcX) HasDataAt(n int) bool {
	m := (*MPMC)(r)
	return m.hasDataAt(uint64(min(max(n, 1), int(m.capacity))))
}

// HasSpace reports whether a Put may find room now (see ringx.MPMC).
func (r *mpmcX) HasSpace() bool { return (*MPMC)(r).hasSpace() }

// HasRoom reports whether n slots look free now (see ringx.MPMC).
func (r *mpmcX) HasRoom(n int) bool {
	m := (*MPMC)(r)
	return m.hasRoom(uint64(min(max(n, 1), int(m.capacity))))
}

// Outstanding returns the number of messages put and not yet wholly taken:
// those queued (filled, or being filled by a live producer) and those a
// consumer has claimed and not yet finished with (a dead consumer's
// included: its message goes to another). Slots given up by dead producers
// do not count. It reads the queued ones before the claimed ones, so a
// message moving from one to the other during the call is never missed
// (it may be counted twice). O(Len + participants).
func (r *mpmcX) Outstanding() int { return (*MPMC)(r).outstanding() }

func (r *MPMC) outstanding() int {
	deq := r.deq.Load()
	enq := r.enq.Load()
	n := 0
	for pos := deq; int64(enq-pos) > 0 && pos-deq < r.capacity; pos++ {
		if r.seq(pos).Load() == pos+1 && r.length(pos).Load() == lenAbandoned {
			continue
		}
		n++
	}
	for i := 0; i < r.parts.n; i++ {
		lo, hi, ok, _ := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
		for pos := lo; ok && pos < hi; pos++ { // a torn read is of a live consumer's claim that moves on: the messages it held are counted above or gone
			if pos < deq && r.seq(pos).Load() == pos+1 && r.length(pos).Load() != lenAbandoned { // not yet used (emptyRun resets the length first)
				n++
			}
		}
	}
	return n
}

// Bytes returns the payload bytes of the messages queued (filled and not
// yet claimed): a snapshot, O(Len).
func (r *mpmcX) Bytes() int64 { return (*MPMC)(r).bytes() }

func (r *MPMC) bytes() int64 {
	deq := r.deq.Load()
	enq := r.enq.Load()
	var n int64
	for pos := deq; int64(enq-pos) > 0 && pos-deq < r.capacity; pos++ {
		if r.seq(pos).Load() != pos+1 {
			continue
		}
		if l := r.length(pos).Load(); l != lenAbandoned && l <= uint32(r.slotBytes) {
			n += int64(l)
		}
	}
	return n
}

// TryPeekQuick is TryPeek without its slow path: on an empty ring it
// returns at once, without looking for dead producers (which reads /proc).
// A consumer that polls an empty ring with it calls Rescue now and then.
func (r *vringX) TryPeekQuick() (rec []byte, ok bool, err error) { return (*vring)(r).tryPeek(false) }

// Ready reports whether a record may be at the head (see ringx.Consumer).
func (r *vringX) Ready() bool { return (*vring)(r).dataReady() }

// Room reports whether the room the last failed TryReserve wanted is free
// (see ringx.Producer).
func (r *vringX) Room() bool { return (*vring)(r).spaceFor() }

// Rescue runs the consumer's slow path without taking a record: records
// left in progress by a dead producer are skipped. It returns ErrPeerDead
// (a producer died) or io.EOF (every producer closed) when the ring is
// empty and no producer is left. Consumer side only.
func (r *vringX) Rescue() error {
	if r.c.peekA != 0 {
		return nil
	}
	_, _, _, err := (*vring)(r).next(true)
	return err
}
