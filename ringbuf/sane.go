package ringbuf

import "fmt"

// sane checks the ring's invariants and returns a descriptive error
// (wrapping ErrCorrupt) for the first that fails: the config line, head and
// tail aligned and at most a capacity apart, and every record between them
// well formed, ending exactly at the tail. It is meant for tests and
// inspection tools: run on a quiet ring (no call in flight) it must hold;
// on a busy one it may report records still being written.
func (r *vring) sane() error {
	if _, _, err := checkVringConfig(r.body); err != nil {
		return err
	}
	head, tail := r.head.Load(), r.tail.Load()
	if head%recordAlign != 0 || tail%recordAlign != 0 || head > tail || tail-head > r.capacity {
		return fmt.Errorf("%w: head %d, tail %d, capacity %d", ErrCorrupt, head, tail, r.capacity)
	}
	for pos := head; pos < tail; {
		idx := pos & r.mask
		h := r.hdr(idx).Load()
		length, slot, typ, _ := splitHeader(h)
		if length < 0 {
			length = -length
		}
		a := uint64(alignUp(int(length), recordAlign))
		switch {
		case length == 0:
			return fmt.Errorf("%w: zero record header at %d (head %d, tail %d)", ErrCorrupt, pos, head, tail)
		case length < recordHeaderSize || a > r.capacity-idx || a > tail-pos:
			return fmt.Errorf("%w: record at %d of length %d overruns (tail %d)", ErrCorrupt, pos, length, tail)
		case typ != recMessage && typ != recPadding:
			return fmt.Errorf("%w: record at %d of type %d", ErrCorrupt, pos, typ)
		case slot >= r.slots.n:
			return fmt.Errorf("%w: record at %d from slot %d of %d", ErrCorrupt, pos, slot, r.slots.n)
		}
		pos += a
	}
	return nil
}

// sane checks the ring's invariants (see vring.sane): the config line,
// dequeue <= enqueue <= dequeue+limit (the capacity without WithLimit),
// and, on a quiet ring, every slot's sequence number: filled slots hold
// pos+1, free ones pos.
func (r *MPMC) sane() error {
	if _, _, _, err := checkMPMCConfig(r.body); err != nil {
		return err
	}
	e, d := r.enq.Load(), r.deq.Load()
	if e < d || e-d > r.capacity {
		return fmt.Errorf("%w: enqueue %d, dequeue %d, capacity %d", ErrCorrupt, e, d, r.capacity)
	}
	if e-d > r.limit {
		return fmt.Errorf("%w: enqueue %d, dequeue %d, limit %d", ErrCorrupt, e, d, r.limit)
	}
	for p := d; p < d+r.capacity; p++ {
		want := p
		if p < e {
			want = p + 1
		}
		if s := r.seq(p).Load(); s != want {
			return fmt.Errorf("%w: slot %d (position %d) seq %d, want %d", ErrCorrupt, p&r.mask, p, s, want)
		}
		if p < e {
			if l := r.length(p).Load(); l > uint32(r.slotBytes) && l != lenAbandoned {
				return fmt.Errorf("%w: slot %d holds %d bytes, slots are %d", ErrCorrupt, p&r.mask, l, r.slotBytes)
			}
		}
	}
	return nil
}
