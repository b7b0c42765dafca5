package ringbuf

import (
	"github.com/shmkit/shmkit/shm"
)

// SPSC is a single-producer single-consumer ring of variable-length byte
// records in shared memory: Lamport's ring with cached indices, records
// committed Agrona's way. Exactly one goroutine at a time may produce
// (Reserve/Commit, Write…) and one may consume (Peek/Discard, Read,
// ReadBatch…), in this or another process; a second live producer or
// consumer process gets ErrBusy. An SPSC must not be copied; pass it to a
// worker process as a handle (it implements gob.GobEncoder).
type SPSC struct{ vring }

// NewSPSC creates an SPSC ring called name in seg with capacity bytes of
// data (a power of two, MinCapacity..MaxCapacity); records of up to
// MaxRecord(capacity) bytes fit.
func NewSPSC(seg *shm.Segment, name string, capacity int, opts ...Option) (*SPSC, error) {
	r := new(SPSC)
	if err := r.create(seg, name, shm.KindSPSC, capacity, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenSPSC opens the SPSC ring called name in seg.
func OpenSPSC(seg *shm.Segment, name string, opts ...Option) (*SPSC, error) {
	r := new(SPSC)
	if err := r.open(seg, name, shm.KindSPSC, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// MPSC is a many-producer single-consumer ring of variable-length byte
// records: producers in any number of processes claim space with a CAS on
// the tail (Agrona's ManyToOneRingBuffer); one consumer reads. A handle
// serialises its own producers (Reserve holds the handle's lock until
// Commit); open one handle per goroutine to produce in parallel. Each
// producing handle takes one of the ring's producer slots (WithProducers).
// A producer with several records at hand writes them with WriteBatch: one
// claim and one publication for the run (LMAX Disruptor's batch claim;
// Aeron's claim strategies likewise claim once for a run of fragments).
// An MPSC must not be copied; pass it to a worker as a handle.
type MPSC struct{ vring }

// NewMPSC creates an MPSC ring called name in seg with capacity bytes of
// data (a power of two) and WithProducers slots (default DefaultProducers).
func NewMPSC(seg *shm.Segment, name string, capacity int, opts ...Option) (*MPSC, error) {
	r := new(MPSC)
	if err := r.create(seg, name, shm.KindMPSC, capacity, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenMPSC opens the MPSC ring called name in seg.
func OpenMPSC(seg *shm.Segment, name string, opts ...Option) (*MPSC, error) {
	r := new(MPSC)
	if err := r.open(seg, name, shm.KindMPSC, opts); err != nil {
		return nil, err
	}
	return r, nil
}
