package ringbuf

// Non-blocking, in-place calls for packages queue and pipe, which wait on
// their own futex words (so that their Close, bounds and peer checks can
// wake their waiters) and so need the claim/fill/publish steps without the
// ring's own wait, a try that stays cheap on an empty ring, and the rescue
// the ring's waits run every poll period, as separate calls.

// TryPutFunc is PutFunc without blocking: ok is false when the ring is
// full. fill writes the message in place and returns its length, or a
// negative value to give the slot up (consumers skip it).
func (r *MPMC) TryPutFunc(fill func(slot []byte) int) (ok bool, err error) {
	if err := r.lockPut(); err != nil {
		return false, err
	}
	defer r.putMu.Unlock()
	pos, ok, err := r.tryClaimPut()
	if !ok {
		return false, err
	}
	n := fill(r.payload(pos))
	if n < 0 {
		r.length(pos).Store(lenAbandoned)
		r.seq(pos).Store(pos + 1) // publishes: slot given up, skipped by consumers
		r.data.wake()
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
// empty. use gets the message in place and must not keep it.
func (r *MPMC) TryGetFunc(use func(msg []byte)) (ok bool, err error) {
	if err := r.lockGet(); err != nil {
		return false, err
	}
	defer r.getMu.Unlock()
	pos, n, ok, err := r.getClaimed()
	if !ok {
		return false, err
	}
	use(r.payload(pos)[:n])
	r.releaseGet(pos)
	return true, nil
}

// RescueEmpty is what a Get blocked on an empty ring runs every poll
// period: a slot claimed by a producer that died before filling it is
// marked abandoned, so that consumers move past it, and a message claimed
// by a consumer that died before taking it is made ready for adoption by
// this handle's next Get. retry reports that either happened (try the Get
// again). It returns io.EOF or ErrPeerDead when no producer is alive (see
// Get).
func (r *MPMC) RescueEmpty() (retry bool, err error) {
	r.getMu.Lock()
	defer r.getMu.Unlock()
	seq := r.seq(r.deq.Load()).Load()
	err = r.rescueEmpty()
	return r.adoptDue.Load() || r.seq(r.deq.Load()).Load() != seq, err
}

// RescueFull is what a Put blocked on a full ring runs every poll period:
// slots at the head that dead producers claimed and never filled are
// skipped, so that a ring at its limit takes messages again; retry reports
// that a slot was freed. It returns ErrPeerDead or ErrClosed when no
// consumer is alive (see Put).
func (r *MPMC) RescueFull() (retry bool, err error) {
	r.putMu.Lock()
	defer r.putMu.Unlock()
	return r.rescueFull()
}

// Outstanding returns the number of messages put and not yet wholly taken:
// those queued (filled, or being filled by a live producer) and those a
// consumer has claimed and not yet finished with (a dead consumer's
// included: its message goes to another). Slots given up by dead producers
// do not count. It reads the queued ones before the claimed ones, so a
// message moving from one to the other during the call is never missed
// (it may be counted twice). O(Len + participants).
func (r *MPMC) Outstanding() int {
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
		c := r.parts.word(i, partOffDeqClaim).Load()
		if pos := c - 1; c != 0 && pos < deq && r.seq(pos).Load() == pos+1 {
			n++
		}
	}
	return n
}

// Bytes returns the payload bytes of the messages queued (filled and not
// yet claimed): a snapshot, O(Len).
func (r *MPMC) Bytes() int64 {
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
func (r *vring) TryPeekQuick() (rec []byte, ok bool, err error) { return r.tryPeek(false) }

// Rescue runs the consumer's slow path without taking a record: records
// left in progress by a dead producer are skipped. It returns ErrPeerDead
// (a producer died) or io.EOF (every producer closed) when the ring is
// empty and no producer is left. Consumer side only.
func (r *vring) Rescue() error {
	if r.c.peekA != 0 {
		return nil
	}
	_, _, _, err := r.next(true)
	return err
}
