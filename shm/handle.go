package shm

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Handle is how another process finds a segment: by name for a named
// segment, by inherited descriptor for an anonymous one. Handles travel
// inside the arguments of a worker process (see package process).
type Handle struct {
	Name string // named segment; "" for an anonymous one
	Dir  string // directory of a named segment
	FD   int    // anonymous segment: its descriptor in the receiving process
}

var (
	exportMu sync.Mutex                         // serialises ExportFiles
	exportFn atomic.Pointer[func(*os.File) int] // the exporter while ExportFiles runs
)

// ExportFiles runs encode while export is installed: meanwhile, Handle on an
// anonymous segment calls export with the segment's file and records the
// descriptor number export says the file will have in the receiving process.
// Package process wraps the encoding of a child's arguments in it, passing
// the files on as the child's extra files. Calls are serialised.
func ExportFiles(export func(*os.File) int, encode func() error) error {
	exportMu.Lock()
	defer exportMu.Unlock()
	exportFn.Store(&export)
	defer exportFn.Store(nil)
	return encode()
}

// Handle returns the segment's handle. An anonymous segment has one only
// while ExportFiles runs (its descriptor must be passed to the receiver),
// and only for the encoding ExportFiles runs: another goroutine's Handle
// of an anonymous segment at that moment would hand its file to that
// child, so do not call it outside the arguments of process.Start.
func (s *Segment) Handle() (Handle, error) {
	if s.name != "" {
		return Handle{Name: s.name, Dir: filepath.Dir(s.path), FD: -1}, nil
	}
	export := exportFn.Load()
	if export == nil || s.file == nil {
		return Handle{}, errors.New("shm: an anonymous segment travels only to a child process started by package process")
	}
	return Handle{FD: (*export)(s.file)}, nil
}

// open maps the segment h names afresh (an anonymous one through a
// duplicate of its descriptor, so that each Segment closes its own).
func (h Handle) open() (*Segment, error) {
	if h.Name != "" {
		return Open(h.Name, WithDir(h.Dir))
	}
	if h.FD < 0 {
		return nil, fmt.Errorf("%w: handle names no segment", ErrNotExist)
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

var (
	attachMu sync.Mutex
	attached = map[Handle]*Segment{}
)

// Attach returns this process's mapping of the segment h names, opening it on
// first use. Objects decoded from a handle share it; it stays mapped for the
// life of the process, so do not Close it.
func Attach(h Handle) (*Segment, error) {
	attachMu.Lock()
	defer attachMu.Unlock()
	if s := attached[h]; s != nil && !s.closed.Load() {
		return s, nil
	}
	s, err := h.open()
	if err != nil {
		return nil, err
	}
	attached[h] = s
	return s, nil
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
	s.name, s.path, s.file, s.mem, s.hdr = o.name, o.path, o.file, o.mem, o.hdr
	return nil
}
