package shm

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// MaxNameLen is the longest segment name: NAME_MAX of the file system.
const MaxNameLen = 255

const pageSize = 4096

// Segment is a mapped shared-memory segment. Its methods are safe for
// concurrent use; Close must not race with users of the memory it returned.
type Segment struct {
	name string   // "" for an anonymous segment
	path string   // file path, or "memfd:…" for an anonymous segment
	file *os.File // kept for anonymous segments (to pass on); nil otherwise
	mem  mmap.MMap
	hdr  header
	ro   bool   // opened with ReadOnly: mem is mapped PROT_READ
	ino  uint64 // the file's inode when mapped: Handle names this file, not whatever has its name later

	// nfile is a named segment's file, opened when a handle of it first
	// goes to a child (see namedFile) and closed by Close; guarded by
	// nfileMu.
	nfileMu sync.Mutex
	nfile   *os.File

	dirMu  sync.Mutex // serialises this process's allocators before the shared lock
	closed atomic.Bool
	att    *attachment // Attach's shared mapping, which Close releases; nil for a mapping of its own
}

type options struct {
	mode     os.FileMode
	dir      string
	dirCap   int
	readOnly bool
	sparse   int64
}

// Option configures Create, CreateAnon and Open.
type Option struct{ apply func(*options) }

// WithMode sets the permission bits of a new segment (default 0600). Widen
// it only when processes of other users must open the segment.
func WithMode(m os.FileMode) Option { return Option{func(o *options) { o.mode = m }} }

// WithSparse leaves the last n bytes of a new segment's object area
// (rounded down to whole pages) sparse: Create and CreateAnon reserve
// every other page with fallocate, but not these. tmpfs and memfd files
// are sparse, so the tail costs no memory until a page of it is written.
// The object placed there (ObjectSpec.Sparse, the last one) must reserve
// its pages before it writes them (madvise MADV_POPULATE_WRITE, which
// fails instead of faulting when /dev/shm is full): a write to an
// unreserved page of a full file system is a SIGBUS. The object area's
// size counts n.
func WithSparse(n int64) Option { return Option{func(o *options) { o.sparse = n }} }

// WithDir places named segments in dir instead of /dev/shm (a tmpfs of the
// caller's own, say). Every process that opens the segment must say the same.
func WithDir(dir string) Option { return Option{func(o *options) { o.dir = dir }} }

// WithDirCap sets how many named objects a new segment's directory holds
// (default DefaultDirCap, at most 65536).
func WithDirCap(n int) Option { return Option{func(o *options) { o.dirCap = n }} }

// ReadOnly makes Open attach the segment read-only: the file is opened
// O_RDONLY and mapped PROT_READ, so that nothing done through the segment
// can change it, and a process may attach a segment it may only read (mode
// 0644, another user's). A store through Bytes, or into an Object's Body,
// faults (SIGSEGV) instead of writing. Alloc returns ErrReadOnly, and so
// does Lookup of an object of any kind but KindBytes: shmkit's locks,
// rings, queues, pipes and values write to shared words (lock words, peer
// tables, sleeper counts) even to read, so they cannot be opened on a
// read-only segment. Lookup with a nil spec, Objects, Info and Bytes work.
// Create and CreateAnon ignore it.
func ReadOnly() Option { return Option{func(o *options) { o.readOnly = true }} }

func makeOptions(opts []Option) options {
	o := options{mode: 0o600, dir: DefaultDir, dirCap: DefaultDirCap}
	for _, f := range opts {
		f.apply(&o)
	}
	return o
}

// ValidateName reports whether name can name a segment: not empty, at most
// MaxNameLen bytes, no '/', no NUL, not ".", and no ".." anywhere in it (a
// name such as "a..b" too, kept out for simplicity). It returns an error
// matching ErrInvalidName that says what is wrong.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidName, len(name), MaxNameLen)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("%w: %q holds '/'", ErrInvalidName, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: %q holds NUL", ErrInvalidName, name)
	case name == ".":
		return fmt.Errorf("%w: %q is the directory itself", ErrInvalidName, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w: %q holds \"..\"", ErrInvalidName, name)
	}
	return nil
}

// layoutFor returns the data offset and total size of a segment with dirCap
// directory entries and at least size bytes of object area.
func layoutFor(size int64, dirCap int) (dataOff, total int64, err error) {
	if size < 0 {
		return 0, 0, fmt.Errorf("shm: negative size %d", size)
	}
	if dirCap <= 0 || dirCap > maxDirCap {
		return 0, 0, fmt.Errorf("shm: directory capacity %d outside 1..%d", dirCap, maxDirCap)
	}
	dataOff = alignUp(dirOff+int64(dirCap)*dirEntrySize, pageSize)
	if size > 1<<46 {
		return 0, 0, fmt.Errorf("%w: %d bytes asked for", ErrNoSpace, size)
	}
	total = alignUp(dataOff+size, pageSize)
	return dataOff, total, nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// reserved is how many leading bytes of a segment of total bytes are
// reserved when its last sparse bytes of object area stay sparse.
func reserved(total, dataOff, sparse int64) int64 {
	if sparse <= 0 {
		return total
	}
	return max(dataOff, total-(sparse&^(pageSize-1)))
}

// Create makes a new named segment with at least size bytes of object area
// (rounded up to whole pages) and maps it. It fails with ErrExist if the name
// is taken, ErrInvalidName for a bad name and ErrNoSpace when /dev/shm cannot
// hold it. The caller owns the name: Unlink removes it.
func Create(name string, size int64, opts ...Option) (*Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	o := makeOptions(opts)
	dataOff, total, err := layoutFor(size, o.dirCap)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(o.dir, name)
	f, publish, err := createFile(path, reserved(total, dataOff, o.sparse), total, o.mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := newSegment(f, name, path, dataOff, total, o.dirCap)
	if err != nil {
		if publish == nil {
			unlinkFile(path) // made under its name (no O_TMPFILE): see createFile
		}
		return nil, err
	}
	if publish == nil {
		return s, nil
	}
	if err := publish(); err != nil { // publishes: the segment under its name, its header written (see createFile)
		s.Close()
		return nil, err
	}
	s.remapByName()
	return s, nil
}

// CreateAnon makes an anonymous segment (a memfd): it has no name in
// /dev/shm and vanishes when the last process holding it exits. It reaches
// a child process as a file descriptor (process.Start passes it). Its size
// is sealed: no process can shrink the file under the others' mappings
// (which would fault, SIGBUS, past the new end) or grow it.
func CreateAnon(size int64, opts ...Option) (*Segment, error) {
	o := makeOptions(opts)
	dataOff, total, err := layoutFor(size, o.dirCap)
	if err != nil {
		return nil, err
	}
	f, err := memfd("shmkit")
	if err != nil {
		return nil, err
	}
	if err := reserve(f, reserved(total, dataOff, o.sparse), total); err != nil {
		f.Close()
		return nil, err
	}
	if err := sealSize(f); err != nil {
		f.Close()
		return nil, err
	}
	s, err := newSegment(f, "", f.Name(), dataOff, total, o.dirCap)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.file = f
	return s, nil
}

// newSegment maps a freshly reserved file and writes its header.
func newSegment(f *os.File, name, path string, dataOff, total int64, dirCap int) (*Segment, error) {
	m, err := mmap.MapRegion(f, int(total), mmap.RDWR, 0, 0)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	me := procinfo.Self()
	h := header{
		version: segVersion, kind: KindSegment, size: uint64(total), dataOff: uint64(dataOff),
		dirCap: uint32(dirCap), creatorPid: uint32(me.Pid), creatorStart: me.Start,
		created: time.Now().UnixNano(), creatorNS: me.NS,
	}
	encodeHeader(m, &h)
	return &Segment{name: name, path: path, mem: m, hdr: h, ino: inode(f)}, nil
}

// remapByName maps the segment again through its name, once createFile's
// unnamed file has it, and drops the first mapping: that one shows in
// /proc/PID/maps (lsof, fuser, leak checks) as "/dev/shm/#INO (deleted)",
// a live segment looking like a leaked one. It is only for the looks, so
// where the name cannot be opened again (a mode that does not let its
// owner write, a name unlinked or taken since the link) the first
// mapping stays.
func (s *Segment) remapByName() {
	g := s.openByName()
	if g == nil {
		return
	}
	defer g.Close()
	m, err := mmap.MapRegion(g, len(s.mem), mmap.RDWR, 0, 0)
	if err != nil {
		return
	}
	old := s.mem
	s.mem = m
	old.Unmap()
}

// openByName opens the segment's file through its name, read-write, or
// returns nil when the name no longer names the file mapped (unlinked,
// another segment made under it since) or cannot be opened.
func (s *Segment) openByName() *os.File {
	f, err := openFile(s.path, false)
	if err != nil {
		return nil
	}
	if inode(f) != s.ino {
		f.Close()
		return nil
	}
	return f
}

// Open maps the existing named segment. It reads and checks the header
// before mapping: ErrNotExist if there is no such segment, ErrIncompatible
// if it is not a shmkit segment of this layout version, ErrCorrupt if the
// header disagrees with the file (a truncated file, say).
func Open(name string, opts ...Option) (*Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	o := makeOptions(opts)
	path := filepath.Join(o.dir, name)
	f, err := openFile(path, o.readOnly)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := mapExisting(f, path, o.readOnly)
	if err != nil {
		return nil, err
	}
	s.name = name
	return s, nil
}

// OpenFile maps an existing segment from an open file: the descriptor of an
// anonymous segment that a parent passed down, say. The segment keeps f.
func OpenFile(f *os.File) (*Segment, error) {
	s, err := mapExisting(f, f.Name(), false)
	if err != nil {
		return nil, err
	}
	s.file = f
	return s, nil
}

// mapExisting checks the header with pread and fstat, then maps the file.
func mapExisting(f *os.File, path string, readOnly bool) (*Segment, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrIncompatible, path)
	}
	var b [headerSize]byte
	n, err := readHeader(f, &b)
	if err != nil && err != io.EOF {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if n < headerSize {
		return nil, fmt.Errorf("%w: %s: %d bytes, shorter than the %d-byte header", ErrCorrupt, path, n, headerSize)
	}
	h, err := decodeHeader(b[:], fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if h.size > 1<<47 || int64(int(h.size)) != int64(h.size) {
		return nil, fmt.Errorf("%w: %s: size %d", ErrCorrupt, path, h.size)
	}
	prot := mmap.RDWR
	if readOnly {
		prot = mmap.RDONLY
	}
	m, err := mmap.MapRegion(f, int(h.size), prot, 0, 0)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return &Segment{path: path, mem: m, hdr: *h, ro: readOnly, ino: inode(f)}, nil
}

// readHeader reads a segment header from f with pread, the magic first and
// the rest in a second read, and returns how many bytes it read. Within one
// read the kernel's copy may load the bytes in any order (arm64 orders no
// two loads, nor x86-64 those of one rep movs), so a magic just stored
// could show beside a field loaded before its store. Between the two
// copies the kernel drops and takes a reference on the page, fully ordered
// atomics: having seen the magic, the second copy sees every field stored
// before it.
func readHeader(f *os.File, b *[headerSize]byte) (int, error) {
	n, err := f.ReadAt(b[offMagic:offMagic+len(segMagic)], offMagic) // observes: the header, every field of it (encodeHeader's magic store)
	if n < len(segMagic) {
		return n, err
	}
	m, err := f.ReadAt(b[offMagic+len(segMagic):], offMagic+int64(len(segMagic)))
	return n + m, err
}

// ReadOnly reports whether the segment was opened with the ReadOnly option.
func (s *Segment) ReadOnly() bool { return s.ro }

// Name returns the segment's name, or "" for an anonymous segment.
func (s *Segment) Name() string { return s.name }

// Path returns the segment's file path ("/dev/shm/NAME"), or "memfd:shmkit"
// for an anonymous segment.
func (s *Segment) Path() string { return s.path }

// Size returns the size of the object area: what Bytes returns.
func (s *Segment) Size() int64 { return int64(s.hdr.size - s.hdr.dataOff) }

// Bytes returns the object area of the segment, shared with every process
// that maps it. It carries no synchronisation. On a segment opened with
// ReadOnly it is mapped PROT_READ: a store into it faults. Do not mix raw use of Bytes
// with Alloc in one segment: Alloc hands out pieces of the same area.
// After Close it returns nil.
func (s *Segment) Bytes() []byte {
	// The flag, not the slice: a Segment of Attach keeps the slice of a
	// mapping that another's Close unmapped.
	if s.closed.Load() {
		return nil
	}
	return s.mem[s.hdr.dataOff:s.hdr.size:s.hdr.size]
}

// File returns the open file of an anonymous segment (to pass to another
// process), or nil for a named one.
func (s *Segment) File() *os.File { return s.file }

// Info describes a segment's header.
type Info struct {
	Name         string
	Path         string
	Size         int64 // file size, header included
	DataSize     int64 // object area
	CreatorPID   int
	CreatorStart uint64 // clock ticks since boot
	// CreatorNS is the inode of the creator's PID namespace
	// (/proc/PID/ns/pid), 0 if it could not be read.
	CreatorNS uint64
	// CreatorElsewhere reports that the creator runs in another PID
	// namespace than the caller (another container, say): its PID means
	// nothing here, so whether it still runs cannot be told, and
	// CreatorAlive is true.
	CreatorElsewhere bool
	// CreatorAlive is false only when the creator is of the caller's PID
	// namespace and has exited (or its PID was reused).
	CreatorAlive bool
	Created      time.Time
	Objects      int   // published directory entries
	Err          error // set by List when the header does not check out; ErrClosed from Info after Close
	DirCap       int
	Version      int  // segment layout version
	Kind         Kind // segment kind (KindSegment)
	DataOffset   int64
}

// Info returns the segment's header, and whether its creator still runs.
// After Close it returns the header as it was mapped, with Objects 0 and
// Err ErrClosed: the directory is no longer there to count.
func (s *Segment) Info() Info {
	if s.closed.Load() { // it panicked, reading the count from an unmapped slice
		in := infoOf(s.name, s.path, &s.hdr, 0)
		in.Err = ErrClosed
		return in
	}
	return infoOf(s.name, s.path, &s.hdr, int(s.dirCount().Load()))
}

func infoOf(name, path string, h *header, objects int) Info {
	creator := procinfo.Ident{Pid: int32(h.creatorPid), Start: h.creatorStart, NS: h.creatorNS}
	return Info{
		Name: name, Path: path, Size: int64(h.size), DataSize: int64(h.size - h.dataOff),
		CreatorPID: int(h.creatorPid), CreatorStart: h.creatorStart, CreatorNS: h.creatorNS,
		CreatorElsewhere: !procinfo.SameNamespace(creator), CreatorAlive: procinfo.Alive(creator),
		Created: time.Unix(0, h.created), Objects: min(objects, int(h.dirCap)), DirCap: int(h.dirCap),
		Version: int(h.version), Kind: Kind(h.kind), DataOffset: int64(h.dataOff),
	}
}

// Close unmaps the segment. It does not remove the name (Unlink does).
// Close is idempotent; memory obtained from the segment must not be used
// after it, and no call on an object in it (a ring, a queue, a lock) may
// still be running in another goroutine. Having seen what such a call
// publishes is not enough: a Close, CloseWrite or Put that another
// goroutine observed may still be waking its waiters through the mapping.
// Wait for the goroutine itself to return first. After Close, Alloc and
// Lookup return ErrClosed, Info's Err is ErrClosed, and Objects and Bytes
// return nil.
//
// A Segment that Attach returned shares its mapping with the others of this
// process: Close unmaps it with the last of them.
func (s *Segment) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.att != nil {
		return s.detach()
	}
	err := s.mem.Unmap()
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
	}
	s.nfileMu.Lock()
	if s.nfile != nil {
		s.nfile.Close()
		s.nfile = nil
	}
	s.nfileMu.Unlock()
	return err
}

// Unlink removes the segment's name so that no one else can open it; the
// memory lives until every mapping is closed. For an anonymous segment it
// does nothing.
func (s *Segment) Unlink() error {
	if s.name == "" {
		return nil
	}
	return unlinkFile(s.path)
}

// Unlink removes the named segment without opening it.
func Unlink(name string, opts ...Option) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	o := makeOptions(opts)
	return unlinkFile(filepath.Join(o.dir, name))
}

// word64 and word32 turn a header offset into an atomic word. The offsets are
// constants inside the header, which every mapping holds, so this cannot fail.
func (s *Segment) word64(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&s.mem[off]))
}

// word64At turns the 8 bytes at off of b, a header being written (a
// mapping's start, or a buffer), into an atomic word.
func word64At(b []byte, off int) *atomic.Uint64 {
	p := unsafe.Pointer(&b[off : off+8][0])
	if uintptr(p)%8 != 0 {
		panic("shm: header word not 8-byte aligned")
	}
	return (*atomic.Uint64)(p)
}

func (s *Segment) dirCount() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&s.mem[offDirCount]))
}

func (s *Segment) dirLockSeq() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&s.mem[offDirLockSeq]))
}
