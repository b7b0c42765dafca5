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
// marked abandoned, so that consumers move past it. It returns io.EOF or
// ErrPeerDead when no producer is alive (see Get).
func (r *MPMC) RescueEmpty() error {
	r.getMu.Lock()
	defer r.getMu.Unlock()
	return r.rescueEmpty()
}

// RescueFull is what a Put blocked on a full ring runs every poll period:
// a slot claimed by a consumer that died before emptying it is given back.
// It returns ErrPeerDead or ErrClosed when no consumer is alive (see Put).
func (r *MPMC) RescueFull() error {
	r.putMu.Lock()
	defer r.putMu.Unlock()
	return r.rescueFull()
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
