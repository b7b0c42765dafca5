package semaphore

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/heap"
	"github.com/shmkit/shmkit/shm"
)

// ref remembers where a named primitive lives, so that its handle can travel
// to another process. It is zero for a primitive embedded in another
// object's memory (InitXxx/XxxAt), which travels with that object instead.
type ref struct {
	seg  *shm.Segment
	name string
	kind shm.Kind
	// hold is what Close gives up: the heap object of a short-form
	// constructor (NewMutex()), the attachment of a decoded handle; nil
	// for CreateXxx and OpenXxx, whose segment is the caller's.
	hold io.Closer
	// closed is set by close: the handle must not be used any more, and
	// GobEncode refuses it. Owned by the handle's user (Close must not run
	// beside another call on the handle).
	closed bool
}

// close gives up r's hold (idempotent: the holds are).
func (r *ref) close() error {
	r.closed = true
	if r.hold == nil {
		return nil
	}
	return r.hold.Close()
}

// closeHandle is the handles' Close: it gives up p's hold and clears p's
// pointers into the shared memory (p adopts a zero handle), so that a
// call after Close panics on a nil pointer, which the program can
// recover from, rather than fault on memory Close unmapped or work on
// memory another handle keeps mapped. It costs the calls nothing.
func closeHandle[T any, P placed[T]](p P, r *ref) error {
	err := r.close()
	var zero T
	p.adopt(&zero, *r)
	return err
}

// wireRef is what GobEncode writes: the segment's handle, the object's name
// and its kind.
type wireRef struct {
	Segment shm.Handle
	Name    string
	Kind    shm.Kind
	Version uint16
	// Lock is the handle of the Mutex a short-form Cond is bound to
	// (NewCondFor), which lives in a heap object of its own; nil
	// otherwise.
	Lock *wireRef
}

func spec(kind shm.Kind, size int) shm.ObjectSpec {
	return shm.ObjectSpec{Kind: kind, Version: versionOf(kind), BodySize: size}
}

// alloc places a new named object of kind in seg and initialises its body.
func alloc(seg *shm.Segment, name string, kind shm.Kind, size int, init func(body []byte) error) (*shm.Object, error) {
	if seg == nil {
		return nil, errors.New("semaphore: nil segment")
	}
	return seg.Alloc(name, spec(kind, size), init)
}

// lookup finds the named object of kind in seg.
func lookup(seg *shm.Segment, name string, kind shm.Kind, size int) (*shm.Object, error) {
	if seg == nil {
		return nil, errors.New("semaphore: nil segment")
	}
	s := spec(kind, size)
	o, err := seg.Lookup(name, &s)
	if err != nil {
		return nil, err
	}
	if len(o.Body) < size {
		return nil, fmt.Errorf("%w: %v %q has a body of %d bytes, want %d", ErrIncompatible, kind, name, len(o.Body), size)
	}
	return o, nil
}

// procSlot is a process slot in shared memory (layout: slotSize): a
// process and a count of what it holds (RWMutex read holds) or has waiting
// (Barrier parties).
type procSlot struct {
	ident *atomic.Uint64 // procinfo word of the slot's process, 0 = free
	count *atomic.Uint32
}

// bindSlots points slots at the process slots that start at off in r.
func bindSlots(r []byte, off int, slots []procSlot) error {
	var err error
	for i := range slots {
		at := off + i*slotSize
		if slots[i].ident, err = atomics.Uint64At(r, at+slotIdent); err != nil {
			return err
		}
		if slots[i].count, err = atomics.Uint32At(r, at+slotCount); err != nil {
			return err
		}
	}
	return nil
}

// placed is a named primitive's handle type: a pointer to T that can take
// over the words of another handle on the same memory and remember where
// that memory lives.
type placed[T any] interface {
	*T
	adopt(from *T, r ref)
}

// create places a new primitive called name in seg, initialised by init,
// the primitive's InitXxx.
func create[T any, P placed[T]](seg *shm.Segment, name string, kind shm.Kind, size int, init func(mem []byte) (P, error)) (P, error) {
	var p P
	o, err := alloc(seg, name, kind, size, func(body []byte) (err error) {
		p, err = init(body)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.adopt(p, ref{seg: seg, name: o.Name, kind: kind})
	return p, nil
}

// place makes a new primitive in this process's heap (package heap),
// initialised by init, the primitive's InitXxx: the short forms, NewMutex()
// and the others.
func place[T any, P placed[T]](kind shm.Kind, size int, init func(mem []byte) (P, error)) (P, error) {
	var p P
	o, hold, err := heap.Alloc(spec(kind, size), func(body []byte) (err error) {
		p, err = init(body)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.adopt(p, ref{seg: o.Segment, name: o.Name, kind: kind, hold: hold})
	return p, nil
}

// open finds the primitive called name in seg and wraps it with at, the
// primitive's XxxAt.
func open[T any, P placed[T]](seg *shm.Segment, name string, kind shm.Kind, size int, at func(mem []byte) (P, error)) (P, error) {
	o, err := lookup(seg, name, kind, size)
	if err != nil {
		return nil, err
	}
	p, err := at(o.Body)
	if err != nil {
		return nil, fmt.Errorf("%v %q: %w", kind, name, err)
	}
	p.adopt(p, ref{seg: seg, name: name, kind: kind})
	return p, nil
}

// decode is GobDecode for every named primitive: it attaches the segment
// the handle in b names, finds the object, and fills into in place.
func decode[T any, P placed[T]](into P, b []byte, kind shm.Kind, size int, at func(mem []byte) (P, error)) error {
	o, err := decodeRef(b, kind, size)
	if err != nil {
		return err
	}
	p, err := at(o.Body)
	if err != nil {
		o.Segment.Close() // drops this attachment's reference
		return err
	}
	into.adopt(p, ref{seg: o.Segment, name: o.Name, kind: kind, hold: o.Segment})
	return nil
}

func (r *ref) encode(what string) ([]byte, error) {
	w, err := r.wire(what)
	if err != nil {
		return nil, err
	}
	return encodeWire(w)
}

func encodeWire(w wireRef) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(w)
	return b.Bytes(), err
}

// wire returns the handle GobEncode writes for r.
func (r *ref) wire(what string) (wireRef, error) {
	if r.closed {
		return wireRef{}, fmt.Errorf("semaphore: a closed %s cannot be handed on (close it after process.Start)", what)
	}
	if r.seg == nil {
		return wireRef{}, fmt.Errorf("semaphore: an embedded %s travels with the object that holds it, not on its own", what)
	}
	h, err := r.seg.Handle()
	if err != nil {
		return wireRef{}, err
	}
	return wireRef{Segment: h, Name: r.name, Kind: r.kind, Version: versionOf(r.kind)}, nil
}

// decode attaches the segment named in b and looks the object up, checking
// that it is of kind.
func decodeRef(b []byte, kind shm.Kind, size int) (*shm.Object, error) {
	w, err := decodeWire(b, kind)
	if err != nil {
		return nil, err
	}
	return w.attach(kind, size)
}

func decodeWire(b []byte, kind shm.Kind) (wireRef, error) {
	var w wireRef
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return w, fmt.Errorf("semaphore: decoding a %v handle: %w", kind, err)
	}
	return w, nil
}

// attach attaches the segment w names and looks the object up, checking
// that it is of kind. The object's Segment is the attachment, which the
// caller closes.
func (w *wireRef) attach(kind shm.Kind, size int) (*shm.Object, error) {
	if w.Kind != kind {
		return nil, fmt.Errorf("%w: handle names a %v, not a %v", ErrIncompatible, w.Kind, kind)
	}
	seg, err := shm.Attach(w.Segment)
	if err != nil {
		return nil, err
	}
	obj, err := lookup(seg, w.Name, kind, size)
	if err != nil {
		seg.Close() // drops this attachment's reference
		return nil, err
	}
	return obj, nil
}

// noCopy makes go vet's copylocks check flag copies of the handles.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
