package heap

import (
	"errors"
	"strconv"
	"sync"

	"github.com/shmkit/shmkit/shm"
)

// Sizes of the heap's segments. Segment k holds up to min(firstDir<<k,
// maxDir) objects in an object area of avgObject bytes per directory entry:
// 256 objects in about 100 KiB first, then 512, 1024 and 2048 (about 780
// KiB) in each further segment. The cap keeps Alloc's directory scan short
// (shm's Alloc looks at every entry) and a retired segment's unused tail
// small.
const (
	firstDir  = 256
	maxDir    = 2048
	avgObject = 256 // a Value of one word with its lock and header; a Mutex is 128
	// bigObject is the size from which an object gets a segment of its
	// own: it would fill a good part of a shared one.
	bigObject = 16 << 10
)

// segment is one heap segment as this process maps it.
type segment struct {
	seg   *shm.Segment
	next  uint64 // counter that names the next object; guarded by mu
	refs  int    // Refs not yet closed on objects here; guarded by mu
	owned bool   // a big object's own segment: never current
}

var (
	mu     sync.Mutex
	cur    *segment // the segment Alloc fills; guarded by mu
	made   int      // shared segments made so far (sizes the next); guarded by mu
	counts = map[*shm.Segment]*segment{}
)

// Ref is this process's hold on one heap object: Close gives it up, and
// unmaps the object's segment when it was the last hold on a segment that
// the heap no longer fills. A Ref must not be copied.
type Ref struct {
	mu sync.Mutex
	s  *segment // nil once closed
}

// Alloc places a new object of spec in this process's heap, as shm's Alloc
// does (init fills the body before the object is published; it must not
// call Alloc), and returns it with the Ref that keeps its segment mapped.
// It returns shm.ErrNoSpace when the memory of a new segment cannot be
// reserved (the segments are memfds, which /dev/shm's size does not
// bound: memory does).
func Alloc(spec shm.ObjectSpec, init func(body []byte) error) (*shm.Object, *Ref, error) {
	if spec.BodySize < 0 {
		return nil, nil, errors.New("heap: negative body size")
	}
	mu.Lock()
	defer mu.Unlock()
	size := int64(shm.ObjectHeaderSize) + int64(spec.BodySize)
	if size >= bigObject {
		s, err := newSegment(size, 1)
		if err != nil {
			return nil, nil, err
		}
		s.owned = true
		o, err := s.alloc(spec, init)
		if err != nil {
			retire(s) // no Ref on it: unmapped, and out of the counts
			return nil, nil, err
		}
		return o, s.ref(), nil
	}
	for tries := 0; ; tries++ {
		if cur == nil {
			dir := min(firstDir<<min(made, 16), maxDir)
			s, err := newSegment(int64(dir)*avgObject, dir)
			if err != nil {
				return nil, nil, err
			}
			cur = s
			made++
		}
		o, err := cur.alloc(spec, init)
		if err == nil {
			return o, cur.ref(), nil
		}
		if !errors.Is(err, shm.ErrNoSpace) || tries > 0 {
			return nil, nil, err // a fresh segment that cannot hold it: not a full one
		}
		retire(cur) // full: the next Alloc starts a fresh one
		cur = nil
	}
}

func newSegment(area int64, dir int) (*segment, error) {
	seg, err := shm.CreateAnon(area, shm.WithDirCap(dir))
	if err != nil {
		return nil, err
	}
	s := &segment{seg: seg}
	counts[seg] = s
	return s, nil
}

// alloc places an object under the segment's next name; the caller holds mu.
func (s *segment) alloc(spec shm.ObjectSpec, init func([]byte) error) (*shm.Object, error) {
	var buf [20]byte
	o, err := s.seg.Alloc(string(strconv.AppendUint(buf[:0], s.next, 36)), spec, init)
	if err == nil {
		s.next++
	}
	return o, err
}

func (s *segment) ref() *Ref {
	s.refs++
	return &Ref{s: s}
}

// retire unmaps s if nothing of this process uses it; the caller holds mu
// and no longer fills s.
func retire(s *segment) {
	if s.refs == 0 {
		delete(counts, s.seg)
		s.seg.Close()
	}
}

// Close gives up the hold. It is idempotent, and safe to call from several
// goroutines; the object must not be used after it.
func (r *Ref) Close() error {
	r.mu.Lock()
	s := r.s
	r.s = nil
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	if s.refs--; s.refs == 0 && s != cur {
		retire(s)
	}
	return nil
}

// Stats is what the heap of this process holds, for tests.
type Stats struct {
	Segments int // mapped heap segments
	Refs     int // open Refs
}

// ReadStats returns the heap's counts.
func ReadStats() Stats {
	mu.Lock()
	defer mu.Unlock()
	st := Stats{Segments: len(counts)}
	for _, s := range counts {
		st.Refs += s.refs
	}
	return st
}
