package pipe

import (
	"github.com/shmkit/shmkit/internal/slotring"
	"github.com/shmkit/shmkit/shm"
)

// ring is one direction of a pipe, with the non-blocking in-place calls of
// ringbuf.SPSC (TryReserve/Commit/Cancel, TryPeek/Release).
type ring struct {
	r      *slotring.Ring
	res    slotring.Token
	resN   int
	peek   slotring.Token
	peeked []byte
	isPeek bool
}

func createRing(seg *shm.Segment, name string, capacity int) (*ring, error) {
	r, err := slotring.Create(seg, name, 64, capacity/64)
	if err != nil {
		return nil, err
	}
	return &ring{r: r}, nil
}

func openRing(seg *shm.Segment, name string) (*ring, error) {
	r, err := slotring.Open(seg, name)
	if err != nil {
		return nil, err
	}
	return &ring{r: r}, nil
}

func (r *ring) MaxRecord() int { return r.r.SlotBytes() }

func (r *ring) TryReserve(n int) ([]byte, bool, error) {
	b, t, ok := r.r.Reserve(n)
	r.res, r.resN = t, n
	return b, ok, nil
}

func (r *ring) Commit() { r.r.Commit(r.res, r.resN, true) }
func (r *ring) Cancel() { r.r.Commit(r.res, 0, false) }

func (r *ring) TryPeek() ([]byte, bool, error) {
	if r.isPeek {
		return r.peeked, true, nil
	}
	for {
		b, t, ok, err := r.r.Peek()
		if !ok || err != nil {
			return nil, false, err
		}
		if b == nil {
			r.r.Release(t)
			continue
		}
		r.peek, r.peeked, r.isPeek = t, b, true
		return b, true, nil
	}
}

func (r *ring) Release() {
	r.isPeek = false
	r.r.Release(r.peek)
}
