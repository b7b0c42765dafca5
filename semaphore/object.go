package semaphore

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/shm"
)

// ref remembers where a named primitive lives, so that its handle can travel
// to another process. It is zero for a primitive embedded in another
// object's memory (InitXxx/XxxAt), which travels with that object instead.
type ref struct {
	seg  *shm.Segment
	name string
	kind shm.Kind
}

// wireRef is what GobEncode writes: the segment's handle, the object's name
// and its kind.
type wireRef struct {
	Segment shm.Handle
	Name    string
	Kind    shm.Kind
	Version uint16
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
		return err
	}
	into.adopt(p, ref{seg: o.Segment, name: o.Name, kind: kind})
	return nil
}

func (r *ref) encode(what string) ([]byte, error) {
	if r.seg == nil {
		return nil, fmt.Errorf("semaphore: an embedded %s travels with the object that holds it, not on its own", what)
	}
	h, err := r.seg.Handle()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = gob.NewEncoder(&b).Encode(wireRef{Segment: h, Name: r.name, Kind: r.kind, Version: versionOf(r.kind)})
	return b.Bytes(), err
}

// decode attaches the segment named in b and looks the object up, checking
// that it is of kind.
func decodeRef(b []byte, kind shm.Kind, size int) (*shm.Object, error) {
	var w wireRef
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return nil, fmt.Errorf("semaphore: decoding a %v handle: %w", kind, err)
	}
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
