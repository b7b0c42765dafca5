package queue

import (
	"github.com/shmkit/shmkit/internal/slotring"
	"github.com/shmkit/shmkit/shm"
)

// ring is the part of the message ring the queue uses: non-blocking claim
// and publish, in place; the queue does its own waiting.
type ring struct{ r *slotring.Ring }

type token = slotring.Token

func createRing(seg *shm.Segment, name string, slots, slotBytes int) (*ring, error) {
	r, err := slotring.Create(seg, name, slots, slotBytes)
	if err != nil {
		return nil, err
	}
	return &ring{r}, nil
}

func openRing(seg *shm.Segment, name string) (*ring, error) {
	r, err := slotring.Open(seg, name)
	if err != nil {
		return nil, err
	}
	return &ring{r}, nil
}

func (r *ring) slotBytes() int                           { return r.r.SlotBytes() }
func (r *ring) cap() int                                 { return r.r.Cap() }
func (r *ring) len() int                                 { return r.r.Len() }
func (r *ring) reserve(n int) ([]byte, token, bool)      { return r.r.Reserve(n) }
func (r *ring) commit(t token, _ []byte, n int, ok bool) { r.r.Commit(t, n, ok) }
func (r *ring) peek() ([]byte, token, bool, error)       { return r.r.Peek() }
func (r *ring) release(t token)                          { r.r.Release(t) }
