package shm

import (
	"bytes"
	"fmt"
	"runtime"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
)

// Object is a named object inside a segment: its decoded header and its body
// (the bytes after the header), which alias the shared mapping.
type Object struct {
	Segment *Segment
	Name    string
	Offset  int64 // of the object header from the segment start
	Header  ObjectHeader
	Body    []byte
}

// ObjectInfo is a directory entry as listed by Objects.
type ObjectInfo struct {
	Name   string
	Offset int64
	Size   int64 // header included
	Header ObjectHeader
	Err    error // set when the entry or its header does not check out
}

// ValidateObjectName reports whether name can name an object: 1 to
// MaxObjectName bytes, no NUL.
func ValidateObjectName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty object name", ErrInvalidName)
	case len(name) > MaxObjectName:
		return fmt.Errorf("%w: object name of %d bytes, longer than %d", ErrInvalidName, len(name), MaxObjectName)
	case bytes.IndexByte([]byte(name), 0) >= 0:
		return fmt.Errorf("%w: object name %q holds NUL", ErrInvalidName, name)
	}
	return nil
}

// Alloc places a new object called name in the segment: a CacheLine-aligned
// block of ObjectHeaderSize+spec.BodySize bytes, zeroed, with its header
// written from spec. init, when not nil, fills the body before the object is
// published: no other process can find the object until init has returned
// nil. init must not call Alloc on the same segment.
//
// Alloc returns ErrExist if the name is taken and ErrNoSpace if the
// directory or the object area is full. It is safe to call from several
// processes at once: allocators take a lock word in the header, and a lock
// left by a dead process is taken over. A lock word that names a live
// process and stays put for seconds (garbage a peer wrote) gives ErrCorrupt.
func (s *Segment) Alloc(name string, spec ObjectSpec, init func(body []byte) error) (*Object, error) {
	if err := s.placeable(Placement{name, spec.BodySize}); err != nil {
		return nil, err
	}
	if spec.Kind == 0 {
		spec.Kind = KindBytes
	}
	unlock, err := s.lockDir()
	if err != nil {
		return nil, err
	}
	defer unlock()

	n, off, err := s.room(Placement{name, spec.BodySize})
	if err != nil {
		return nil, err
	}
	size := int64(ObjectHeaderSize) + int64(spec.BodySize)
	mem := s.mem[off : off+size : off+size]
	if spec.Sparse {
		clear(mem[:ObjectHeaderSize]) // the body's pages are its owner's to reserve
	} else {
		clear(mem) // a crashed allocator may have left a half-written object here
	}
	encodeObjectHeader(mem, &spec)
	body := mem[ObjectHeaderSize:]
	if init != nil {
		if err := init(body); err != nil {
			return nil, err
		}
	}
	e := s.entry(n)
	clear(e)
	copy(e[entName:entName+MaxObjectName], name)
	le.PutUint64(e[entOff:], uint64(off))
	le.PutUint64(e[entSize:], uint64(size))
	le.PutUint16(e[entKind:], uint16(spec.Kind))
	s.dirCount().Store(uint32(n + 1)) // publishes: directory entry n and its object
	h, _ := DecodeObjectHeader(mem)
	return &Object{Segment: s, Name: name, Offset: off, Header: h, Body: body}, nil
}

// A Placement is an object CanAlloc looks for room for: its name and the
// size of its body (its ObjectSpec's BodySize).
type Placement struct {
	Name     string
	BodySize int
}

// CanAlloc reports whether Alloc could place the objects objs now, one
// after another in that order: nil when no name is taken (nor given
// twice), the directory has an entry left for each, and the object area
// room for them all. Otherwise it returns ErrExist if a name is taken,
// else ErrNoSpace; ErrInvalidName and an error for a negative size for
// bad arguments, and ErrClosed, ErrReadOnly or ErrCorrupt (a directory
// count past its capacity) as Alloc does. It is for a caller that places
// several objects that belong together (a queue and its ring): objects
// are never freed, so a group whose Alloc failed after the first left the
// ones before it in the segment for good. It takes no lock: another
// process may still take a name, entries or room between the look and
// the Allocs.
func (s *Segment) CanAlloc(objs ...Placement) error {
	for i, o := range objs {
		for _, p := range objs[:i] {
			if p.Name == o.Name {
				return fmt.Errorf("%w: object %q asked for twice", ErrExist, o.Name)
			}
		}
	}
	if err := s.placeable(objs...); err != nil {
		return err
	}
	_, _, err := s.room(objs...)
	return err
}

// placeable refuses what no directory would take (a bad name, a negative
// size) and a segment that takes nothing (closed, read-only).
func (s *Segment) placeable(objs ...Placement) error {
	for _, o := range objs {
		if err := ValidateObjectName(o.Name); err != nil {
			return err
		}
		if o.BodySize < 0 {
			return fmt.Errorf("shm: negative body size %d for object %q", o.BodySize, o.Name)
		}
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if s.ro {
		return fmt.Errorf("%w: cannot place objects in %s", ErrReadOnly, s.path)
	}
	return nil
}

// room works out where objs would go, one after another, in the
// directory as it is now: it returns the count of its entries and the
// offset of the first object, or why they do not all fit: ErrCorrupt for
// a count past the capacity, ErrExist for a name taken, ErrNoSpace for
// too few entries or bytes. Alloc calls it under the directory lock,
// CanAlloc without.
func (s *Segment) room(objs ...Placement) (n int, first int64, err error) {
	n = int(s.dirCount().Load()) // observes: directory entries published
	if n > int(s.hdr.dirCap) {
		return 0, 0, fmt.Errorf("%w: directory count %d over capacity %d", ErrCorrupt, n, s.hdr.dirCap)
	}
	top := int64(s.hdr.dataOff)
	for i := 0; i < n; i++ {
		e := s.entry(i)
		for _, o := range objs {
			if entryNameIs(e, o.Name) {
				return 0, 0, fmt.Errorf("%w: object %q in %s", ErrExist, o.Name, s.path)
			}
		}
		if end := int64(le.Uint64(e[entOff:]) + le.Uint64(e[entSize:])); end > top && end <= int64(s.hdr.size) {
			top = end
		}
	}
	if left := int(s.hdr.dirCap) - n; left < len(objs) {
		return 0, 0, fmt.Errorf("%w: directory of %s holds %d objects of %d, %d more asked", ErrNoSpace, s.path, n, s.hdr.dirCap, len(objs))
	}
	for i, o := range objs {
		off := alignUp(top, CacheLine)
		// Compared as room for the body, not as off+size against the
		// end: a body size near MaxInt overflows that sum (negative, it
		// passed the check and then slicing the mapping panicked).
		if room := int64(s.hdr.size) - off - ObjectHeaderSize; int64(o.BodySize) > room {
			return 0, 0, fmt.Errorf("%w: object %q needs %d bytes, %s has %d left", ErrNoSpace, o.Name, uint64(ObjectHeaderSize)+uint64(o.BodySize), s.path, max(0, int64(s.hdr.size)-off))
		}
		if i == 0 {
			first = off
		}
		top = off + ObjectHeaderSize + int64(o.BodySize)
	}
	return n, first, nil
}

// Lookup finds the object called name. When spec is not nil the object's
// header must match its kind, layout version and element type, or Lookup
// returns ErrIncompatible saying what differs. It returns ErrNotExist if
// there is no such object and ErrCorrupt if its entry or header is garbage.
// Lookup takes no lock. On a segment opened with ReadOnly, a spec of any
// kind but KindBytes gives ErrReadOnly (see ReadOnly).
func (s *Segment) Lookup(name string, spec *ObjectSpec) (*Object, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	n := min(int(s.dirCount().Load()), int(s.hdr.dirCap)) // observes: directory entries published
	for i := 0; i < n; i++ {
		e := s.entry(i)
		if !entryNameIs(e, name) {
			continue
		}
		o, err := s.objectAt(name, e)
		if err != nil {
			return nil, err
		}
		if spec != nil {
			if err := o.Header.Check(spec); err != nil {
				return nil, fmt.Errorf("object %q in %s: %w", name, s.path, err)
			}
			if s.ro && spec.Kind != KindBytes && spec.Kind != 0 {
				return nil, fmt.Errorf("%w: a %v writes to shared memory even to read; object %q in %s", ErrReadOnly, spec.Kind, name, s.path)
			}
		}
		return o, nil
	}
	return nil, fmt.Errorf("%w: object %q in %s", ErrNotExist, name, s.path)
}

// Objects lists the directory. Entries that do not check out are listed with
// Err set rather than dropped, so that `shmkit stat` can show them. After
// Close it returns nil (Info's Err says ErrClosed).
func (s *Segment) Objects() []ObjectInfo {
	if s.closed.Load() { // it panicked, reading the unmapped directory
		return nil
	}
	n := min(int(s.dirCount().Load()), int(s.hdr.dirCap))
	out := make([]ObjectInfo, 0, n)
	for i := 0; i < n; i++ {
		e := s.entry(i)
		info := ObjectInfo{Name: entryName(e), Offset: int64(le.Uint64(e[entOff:])), Size: int64(le.Uint64(e[entSize:]))}
		if o, err := s.objectAt(info.Name, e); err != nil {
			info.Err = err
		} else {
			info.Header = o.Header
		}
		out = append(out, info)
	}
	return out
}

// objectAt bounds-checks a directory entry and decodes the object it points at.
func (s *Segment) objectAt(name string, e []byte) (*Object, error) {
	off, size := le.Uint64(e[entOff:]), le.Uint64(e[entSize:])
	if off < s.hdr.dataOff || off%CacheLine != 0 || size > s.hdr.size || off > s.hdr.size-size {
		return nil, fmt.Errorf("%w: object %q at %d+%d outside the object area [%d, %d)", ErrCorrupt, name, off, size, s.hdr.dataOff, s.hdr.size)
	}
	mem := s.mem[off : off+size : off+size]
	h, err := DecodeObjectHeader(mem)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", name, err)
	}
	return &Object{Segment: s, Name: name, Offset: int64(off), Header: h, Body: mem[ObjectHeaderSize : ObjectHeaderSize+h.BodySize]}, nil
}

func (s *Segment) entry(i int) []byte {
	off := dirOff + i*dirEntrySize
	return s.mem[off : off+dirEntrySize : off+dirEntrySize]
}

// entryNameIs reports whether entry e is called name, without allocating.
func entryNameIs(e []byte, name string) bool {
	n := e[entName : entName+MaxObjectName+1]
	return len(name) <= MaxObjectName && string(n[:len(name)]) == name && n[len(name)] == 0
}

func entryName(e []byte) string {
	n := e[entName : entName+MaxObjectName]
	if i := bytes.IndexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	return string(n)
}

// lockDir takes the directory lock: this process's mutex first, then the
// shared lock word, which holds the holder's procinfo word (0 = free). A word
// whose process is dead is taken over: the dead holder cannot have published
// anything half-done, since publication is the last store of Alloc.
//
// A word that no allocator writes (a start time of zero: an allocator
// writes its own, and no process that calls Alloc started in the boot's
// first tick) is garbage a peer wrote, taken over as a dead holder's. A
// word that names a live process and stays put for dirLockWait, an
// allocation being a few copies, is garbage too, or an allocator that was
// stopped: lockDir gives up with ErrCorrupt rather than wait for ever.
// Staying put means that the lock did not pass: a peer that allocates
// back to back shows the same word at every check, so each taking bumps
// dirLockSeq, and a word seen again with another count is a new holding.
func (s *Segment) lockDir() (unlock func(), err error) {
	mu := &s.dirMu
	if s.att != nil {
		mu = &s.att.base.dirMu // one mutex per mapping, whatever Segment over it
	}
	mu.Lock()
	w := s.word64(offDirLock)
	me := procinfo.Self().Word()
	var seen, seenPasses uint64
	var since time.Time
	for i := 0; ; i++ {
		if w.CompareAndSwap(0, me) { // free -> held by me
			break
		}
		if i%64 == 63 {
			lockDirCheck()
			old := w.Load()
			if old != 0 && (procinfo.FromWord(old).Start == 0 || !procinfo.AliveWord(old)) && w.CompareAndSwap(old, me) { // held by the dead (or garbage) -> held by me
				break
			}
			// The same word seen again may be a new holding by the same
			// process: a live peer allocating back to back was judged
			// stuck (ErrCorrupt) after dirLockWait of checks that each
			// found it holding. Takings (dirLockSeq) and publications
			// (dirCount: a peer of an older build bumps no dirLockSeq)
			// tell that the lock passed.
			passes := uint64(s.dirLockSeq().Load())<<32 | uint64(s.dirCount().Load())
			if old == 0 || old != seen || passes != seenPasses {
				// A new holder, or none: the holder let go since the CAS
				// above failed. Either way the lock moves, and the wait
				// for a word that stays put starts again. (seen starts at
				// 0: a free word at the first check was taken for one that
				// had stayed put since the zero time, ErrCorrupt at once.)
				seen, seenPasses, since = old, passes, time.Now()
			} else if time.Since(since) > dirLockWait {
				mu.Unlock()
				return nil, fmt.Errorf("%w: directory lock held by %#x for over %v", ErrCorrupt, old, dirLockWait)
			}
		}
		if i < 16 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond) // back-off on a cold path; the holder runs meanwhile
		}
	}
	s.dirLockSeq().Add(1) // one more taking: a waiter that sees the same word again sees the lock passed
	return func() {
		w.Store(0) // held by me -> free
		mu.Unlock()
	}, nil
}

// dirLockWait bounds a wait for a directory lock word that does not
// change (a variable for the tests).
var dirLockWait = 5 * time.Second

// lockDirCheck runs before each check of the lock word for a dead or stuck
// holder: a test lets the holder go there, between a failed CAS and the
// check.
var lockDirCheck = func() {}
