package ringbuf

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/shm"
)

// handle is what a ring sends to a worker process: where its segment is,
// the ring's name in it, and its kind. Decoding attaches the segment
// (shm.Attach: one mapping per process) and opens the ring by name, which
// checks its kind and layout version again.
type handle struct {
	Seg  shm.Handle
	Name string
	Kind shm.Kind
}

func encodeHandle(seg *shm.Segment, name string, kind shm.Kind) ([]byte, error) {
	if seg == nil {
		return nil, fmt.Errorf("%w: encoding a ring that was never opened", ErrInvalid)
	}
	h, err := seg.Handle()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = gob.NewEncoder(&b).Encode(handle{Seg: h, Name: name, Kind: kind})
	return b.Bytes(), err
}

func decodeHandle(b []byte, kind shm.Kind) (*shm.Segment, string, error) {
	var h handle
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&h); err != nil {
		return nil, "", err
	}
	if h.Kind != kind {
		return nil, "", fmt.Errorf("%w: handle names a %v, not a %v", shm.ErrIncompatible, h.Kind, kind)
	}
	seg, err := shm.Attach(h.Seg)
	if err != nil {
		return nil, "", err
	}
	return seg, h.Name, nil
}

// GobEncode encodes a handle to the ring (segment handle, name, kind), so
// that an *SPSC inside a worker's arguments reaches the worker attached.
// Wait options do not travel; the receiver uses the defaults. A closed
// handle returns ErrClosed.
//
// Encoded among the arguments of a process.Start, it also records the
// child on the side this handle has not taken (the consumer of a ring this
// handle produces into, a producer of one it consumes), so that from the
// moment the child starts a waiter here counts it as its peer, and a child
// that dies before attaching is a dead peer, not one still to come.
func (r *SPSC) GobEncode() ([]byte, error) { return r.vring.encode(shm.KindSPSC) }

// GobDecode attaches the ring whose handle GobEncode wrote, as a fresh
// handle: r must be a zero SPSC. Close drops the attachment.
func (r *SPSC) GobDecode(b []byte) error {
	seg, name, err := decodeHandle(b, shm.KindSPSC)
	if err != nil {
		return err
	}
	return r.adopt(seg, name, shm.KindSPSC)
}

// GobEncode encodes a handle to the ring; see SPSC.GobEncode.
func (r *MPSC) GobEncode() ([]byte, error) { return r.vring.encode(shm.KindMPSC) }

func (r *vring) encode(kind shm.Kind) ([]byte, error) {
	if r.closed.Load() { // as MPMC's
		return nil, ErrClosed
	}
	b, err := encodeHandle(r.seg, r.name, kind)
	if err == nil && handoff.Active() {
		r.reserveChild()
	}
	return b, err
}

// GobDecode attaches the ring; see SPSC.GobDecode.
func (r *MPSC) GobDecode(b []byte) error {
	seg, name, err := decodeHandle(b, shm.KindMPSC)
	if err != nil {
		return err
	}
	return r.adopt(seg, name, shm.KindMPSC)
}

// GobEncode encodes a handle to the ring; see SPSC.GobEncode.
//
// Encoded among the arguments of a process.Start, it also reserves a
// participant slot for the child, so that from the moment the child is
// started its peers count it as a possible producer and consumer.
func (r *MPMC) GobEncode() ([]byte, error) {
	if r.closed.Load() { // nothing to hand on; the reserve below would touch a decoded handle's unmapped memory
		return nil, ErrClosed
	}
	b, err := encodeHandle(r.seg, r.name, shm.KindMPMC)
	if err == nil && handoff.Active() {
		r.reserve()
	}
	return b, err
}

// GobDecode attaches the ring; see SPSC.GobDecode.
func (r *MPMC) GobDecode(b []byte) error {
	seg, name, err := decodeHandle(b, shm.KindMPMC)
	if err != nil {
		return err
	}
	obj, err := seg.Lookup(name, &shm.ObjectSpec{Kind: shm.KindMPMC, Version: mpmcVersion})
	if err == nil {
		err = r.init(seg, obj, defaultOptions())
	}
	if err != nil {
		seg.Close()
		return err
	}
	r.ownSeg = true // the attachment is r's: Close drops it
	return nil
}

// adopt opens the ring name in seg, which decodeHandle attached for r.
func (r *vring) adopt(seg *shm.Segment, name string, kind shm.Kind) error {
	if err := r.open(seg, name, kind, nil); err != nil {
		seg.Close()
		return err
	}
	r.ownSeg = true // the attachment is r's: Close drops it
	return nil
}
