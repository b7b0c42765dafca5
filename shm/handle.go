package shm

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/fdexport"
)

// Handle is how another process finds a segment: by name for a named
// segment, by inherited descriptor for an anonymous one. Handles travel
// inside the arguments of a worker process (see package process).
type Handle struct {
	Name string // named segment; "" for an anonymous one
	Dir  string // directory of a named segment
	FD   int    // anonymous segment: its descriptor in the receiving process, or in process Pid
	// Pid, when not 0, is the process whose descriptor FD is, opened
	// through /proc/Pid/fd/FD, and Ino the inode it must have there.
	Pid int
	// Ino, when not 0, is the segment's inode: for a named segment, it
	// tells this segment from one made later under the same name (the
	// handles differ, so a mapping kept for the old one is not reused).
	Ino uint64
}

// Handle returns the segment's handle. A named segment's names it; inside
// the arguments of process.Start it also passes the file (opened once per
// mapping, kept until Close), so that the child attaches even when the
// name is unlinked before it decodes. An anonymous segment has one only
// while package process encodes a child's arguments (its descriptor must
// be passed to the child), and only for that encoding: another goroutine's
// Handle of an anonymous segment at that moment would hand its file to that
// child, so do not call it outside the arguments of process.Start.
func (s *Segment) Handle() (Handle, error) {
	if s.name != "" {
		// The inode of the file mapped, read from its descriptor when it
		// was mapped: one read through the name now would be that of a
		// segment made under the name since this one was unlinked, and
		// the handle would name the stranger. Unlinked, this one cannot
		// be opened by name, and open refuses the other's inode.
		h := Handle{Name: s.name, Dir: filepath.Dir(s.path), FD: -1, Ino: s.ino}
		// Encoded for a child (process.Start), the file goes too, as
		// an inherited descriptor: the child is the segment's peer from
		// Start on, and must find it even when the name is unlinked
		// before it decodes (its creator's deferred Unlink, or shmkit gc
		// once the creator died). The name stays for other encodings.
		if export := fdexport.Current(); export != nil {
			if f := s.namedFile(); f != nil {
				h.FD = export(f)
			}
		}
		return h, nil
	}
	if fdexport.InPlace() && s.file != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(s.file.Fd()), &st); err != nil {
			return Handle{}, &os.PathError{Op: "fstat", Path: s.file.Name(), Err: err}
		}
		return Handle{FD: int(s.file.Fd()), Pid: os.Getpid(), Ino: st.Ino}, nil
	}
	export := fdexport.Current()
	if export == nil || s.file == nil {
		return Handle{}, errors.New("shm: an anonymous segment travels only to a child process started by package process")
	}
	return Handle{FD: export(s.file)}, nil
}

// namedFile returns the file of a named segment, opened at its first
// call and kept until the mapping is closed, or nil when its name no longer
// names the file mapped (unlinked, or another segment made under it) or
// the segment is read-only (a child maps a handle read-write).
func (s *Segment) namedFile() *os.File {
	b := s
	if s.att != nil {
		b = s.att.base // the mapping's, closed with it
	}
	if b.ro {
		return nil
	}
	b.nfileMu.Lock()
	defer b.nfileMu.Unlock()
	if b.nfile == nil && !b.closed.Load() {
		b.nfile = b.openByName() // nil: tried again at the next call
	}
	return b.nfile
}

// openInherited maps the named segment h names through the descriptor
// h.FD that the parent passed (see Handle), if it is the segment's file;
// ok is false when it is not there, and open then looks the name up.
func (h Handle) openInherited() (s *Segment, ok bool, err error) {
	fd, err := unix.FcntlInt(uintptr(h.FD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, false, nil
	}
	path := filepath.Join(h.Dir, h.Name)
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // the mapping holds the file; a named Segment keeps no descriptor
	if h.Ino == 0 || inode(f) != h.Ino {
		return nil, false, nil
	}
	s, err = mapExisting(f, path, false)
	if err != nil {
		return nil, true, err
	}
	s.name = h.Name
	return s, true, nil
}

// open maps the segment h names afresh (an anonymous one through a
// duplicate of its descriptor, so that each Segment closes its own).
func (h Handle) open() (*Segment, error) {
	if h.Name != "" {
		if h.FD >= 0 {
			if s, ok, err := h.openInherited(); ok {
				return s, err
			}
		}
		s, err := Open(h.Name, WithDir(h.Dir))
		if err != nil || h.Ino == 0 {
			return s, err
		}
		if s.ino != h.Ino { // the file mapped, not whatever has the name by now
			s.Close()
			return nil, fmt.Errorf("%w: segment %s was replaced by another of its name (inode %d)", ErrNotExist, h.Name, h.Ino)
		}
		return s, nil
	}
	if h.FD < 0 {
		return nil, fmt.Errorf("%w: handle names no segment", ErrNotExist)
	}
	if h.Pid != 0 {
		return h.openProc()
	}
	fd, err := unix.FcntlInt(uintptr(h.FD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: inherited descriptor %d: %v", ErrNotExist, h.FD, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:shmkit")
	s, err := OpenFile(f)
	if err != nil {
		f.Close()
	}
	return s, err
}

// openProc opens descriptor h.FD of process h.Pid through /proc, as a
// process of the same user may (the kernel checks that it may read the
// other's memory: same user, the other dumpable). The file must still be
// the one the handle was made for (its inode: a descriptor number may be
// reused, a PID too, and another PID namespace's /proc names other
// processes), and a sealed memfd, so that nobody can shrink it under the
// mapping; the header and size checks are those of an inherited one.
func (h Handle) openProc() (*Segment, error) {
	path := fmt.Sprintf("/proc/%d/fd/%d", h.Pid, h.FD)
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: descriptor %d of process %d: %v", ErrNotExist, h.FD, h.Pid, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != h.Ino {
		f.Close()
		return nil, fmt.Errorf("%w: descriptor %d of process %d is no longer the segment (inode %d)", ErrNotExist, h.FD, h.Pid, h.Ino)
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_SHRINK == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a sealed anonymous segment", ErrIncompatible, path)
	}
	s, err := OpenFile(f)
	if err != nil {
		f.Close()
	}
	return s, err
}

var (
	attachMu sync.Mutex
	attached = map[Handle]*attachment{}
)

// attachment is one process-wide mapping of a segment that Attach hands
// out: every Attach of the same handle returns a Segment of its own over
// it, and the mapping goes when the last of them is closed.
type attachment struct {
	h    Handle
	base *Segment // the mapping; never handed out
	refs int      // Segments over base not yet closed; guarded by attachMu
}

// Attach returns a Segment over this process's mapping of the segment h
// names, opening it on first use, so that the objects decoded from many
// handles to one segment share one mapping. The caller owns the Segment it
// gets and closes it when done: each Attach returns a Segment of its own,
// and the mapping is unmapped when the last of them is closed. (Objects
// decoded from a handle, a queue or a ring, close theirs in their own
// Close.)
func Attach(h Handle) (*Segment, error) {
	attachMu.Lock()
	defer attachMu.Unlock()
	a := attached[h]
	if a == nil || a.base.closed.Load() {
		s, err := h.open()
		if err != nil {
			return nil, err
		}
		a = &attachment{h: h, base: s}
		attached[h] = a
	}
	a.refs++
	b := a.base
	return &Segment{name: b.name, path: b.path, file: b.file, mem: b.mem, hdr: b.hdr, ro: b.ro, ino: b.ino, att: a}, nil
}

// detach drops s's reference to its attachment, unmapping it with the last.
func (s *Segment) detach() error {
	attachMu.Lock()
	defer attachMu.Unlock()
	a := s.att
	if a.refs--; a.refs > 0 {
		return nil
	}
	if attached[a.h] == a {
		delete(attached, a.h)
	}
	return a.base.Close()
}

// GobEncode encodes the segment's handle, so that a *Segment inside a
// worker's arguments reaches the worker as a live mapping.
func (s *Segment) GobEncode() ([]byte, error) {
	h, err := s.Handle()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = gob.NewEncoder(&b).Encode(h)
	return b.Bytes(), err
}

// GobDecode maps the segment whose handle GobEncode wrote, as a new mapping
// that the receiver owns (and may Close).
func (s *Segment) GobDecode(b []byte) error {
	var h Handle
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&h); err != nil {
		return err
	}
	o, err := h.open()
	if err != nil {
		return err
	}
	s.name, s.path, s.file, s.mem, s.hdr, s.ino = o.name, o.path, o.file, o.mem, o.hdr, o.ino
	return nil
}
