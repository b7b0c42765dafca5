// Package slotring is a stand-in bounded MPMC ring with fixed-size slots
// (Vyukov's per-slot sequence numbers) that package queue and package pipe
// use until ringbuf's rings land. Non-blocking only: the callers do their
// own waiting. It is not crash-proof: a producer killed between Reserve and
// Commit wedges the slot.
package slotring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// Layout (body of a KindBytes object):
//
//	  0 capacity u64 (slots, power of two)   8 slotBytes u32
//	 64 enqueue u64 [producers CAS]
//	128 dequeue u64 [consumers CAS]
//	192 slots: seq u64, len u32, pad u32, payload slotBytes (stride rounded to 8)
const (
	offCap       = 0
	offSlotBytes = 8
	offEnq       = 64
	offDeq       = 128
	offSlots     = 192
	slotHeader   = 16
	// LenEmpty marks a slot given up by a producer.
	lenEmpty = ^uint32(0)
)

// Ring is a handle to a ring.
type Ring struct {
	body      []byte
	capacity  uint64
	mask      uint64
	slotBytes int
	stride    int
	enq, deq  *atomic.Uint64
}

// Token names a claimed slot.
type Token struct {
	slot uint64
	pos  uint64
}

func stride(sb int) int { return (slotHeader + sb + 7) &^ 7 }

// Create makes a ring of capacity slots (a power of two) of slotBytes.
func Create(seg *shm.Segment, name string, capacity, slotBytes int) (*Ring, error) {
	if capacity < 2 || capacity&(capacity-1) != 0 {
		return nil, fmt.Errorf("slotring: capacity %d not a power of two", capacity)
	}
	size := offSlots + capacity*stride(slotBytes)
	obj, err := seg.Alloc(name, shm.ObjectSpec{Kind: shm.KindBytes, Capacity: uint64(capacity), BodySize: size}, func(b []byte) error {
		*(*uint64)(unsafe.Pointer(&b[offCap])) = uint64(capacity)
		*(*uint32)(unsafe.Pointer(&b[offSlotBytes])) = uint32(slotBytes)
		st := stride(slotBytes)
		for i := 0; i < capacity; i++ {
			*(*uint64)(unsafe.Pointer(&b[offSlots+i*st])) = uint64(i)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return at(obj.Body)
}

// Open finds the ring called name.
func Open(seg *shm.Segment, name string) (*Ring, error) {
	obj, err := seg.Lookup(name, &shm.ObjectSpec{Kind: shm.KindBytes})
	if err != nil {
		return nil, err
	}
	return at(obj.Body)
}

func at(b []byte) (*Ring, error) {
	if len(b) < offSlots {
		return nil, fmt.Errorf("%w: slotring body %d bytes", shm.ErrCorrupt, len(b))
	}
	c := *(*uint64)(unsafe.Pointer(&b[offCap]))
	sb := int(*(*uint32)(unsafe.Pointer(&b[offSlotBytes])))
	if c < 2 || c&(c-1) != 0 || c > 1<<30 || uint64(len(b)) < uint64(offSlots)+c*uint64(stride(sb)) {
		return nil, fmt.Errorf("%w: slotring geometry", shm.ErrCorrupt)
	}
	return &Ring{body: b, capacity: c, mask: c - 1, slotBytes: sb, stride: stride(sb),
		enq: (*atomic.Uint64)(unsafe.Pointer(&b[offEnq])), deq: (*atomic.Uint64)(unsafe.Pointer(&b[offDeq]))}, nil
}

func (r *Ring) seq(i uint64) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&r.body[offSlots+int(i)*r.stride]))
}
func (r *Ring) length(i uint64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&r.body[offSlots+int(i)*r.stride+8]))
}
func (r *Ring) payload(i uint64) []byte {
	o := offSlots + int(i)*r.stride + slotHeader
	return r.body[o : o+r.slotBytes : o+r.slotBytes]
}

// SlotBytes returns the payload size of a slot.
func (r *Ring) SlotBytes() int { return r.slotBytes }

// Cap returns the slot count.
func (r *Ring) Cap() int { return int(r.capacity) }

// Len returns the number of claimed-for-write, unreleased slots.
func (r *Ring) Len() int {
	d := r.deq.Load()
	e := r.enq.Load()
	if e < d {
		return 0
	}
	return int(min(e-d, r.capacity))
}

// Reserve claims the next slot for n bytes; false when full.
func (r *Ring) Reserve(n int) ([]byte, Token, bool) {
	pos := r.enq.Load()
	for {
		i := pos & r.mask
		seq := r.seq(i).Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if r.enq.CompareAndSwap(pos, pos+1) {
				return r.payload(i)[:n], Token{i, pos}, true
			}
			pos = r.enq.Load()
		case d < 0:
			return nil, Token{}, false
		default:
			pos = r.enq.Load()
		}
	}
}

// Commit publishes a reserved slot holding n bytes, or gives it up.
func (r *Ring) Commit(t Token, n int, ok bool) {
	l := uint32(n)
	if !ok {
		l = lenEmpty
	}
	r.length(t.slot).Store(l)
	r.seq(t.slot).Store(t.pos + 1)
}

// Peek claims the oldest filled slot; rec is nil for a slot given up.
func (r *Ring) Peek() (rec []byte, t Token, ok bool, err error) {
	pos := r.deq.Load()
	for {
		i := pos & r.mask
		seq := r.seq(i).Load()
		switch d := int64(seq - (pos + 1)); {
		case d == 0:
			if r.deq.CompareAndSwap(pos, pos+1) {
				l := r.length(i).Load()
				t = Token{i, pos}
				if l == lenEmpty {
					return nil, t, true, nil
				}
				if int(l) > r.slotBytes {
					r.Release(t)
					return nil, t, false, fmt.Errorf("%w: slot length %d over %d", shm.ErrCorrupt, l, r.slotBytes)
				}
				return r.payload(i)[:l], t, true, nil
			}
			pos = r.deq.Load()
		case d < 0:
			return nil, Token{}, false, nil
		default:
			pos = r.deq.Load()
		}
	}
}

// Release frees a slot claimed by Peek.
func (r *Ring) Release(t Token) { r.seq(t.slot).Store(t.pos + r.capacity) }
