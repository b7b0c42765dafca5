package shm

import (
	"encoding/binary"
	"fmt"
)

// CacheLine is the unit of alignment for everything in shared memory. x86-64
// and most arm64 parts have 64-byte lines; objects start on a line of their
// own so that two objects never share one (false sharing between processes
// costs a cross-core transfer per write).
const CacheLine = 64

// Segment layout (version 2: the creator's PID namespace at 56; version 1
// left it zero and is refused). All integers little-endian (the machine's:
// shmkit is Linux on x86-64/arm64, both little-endian).
//
//	0        8    12   16        24        32   36   40        48        56       64
//	+--------+----+----+---------+---------+----+----+---------+---------+--------+
//	| magic  |ver |kind| size    | dataOff |dcap|cpid| cstart  | created | cns    |
//	+--------+----+----+---------+---------+----+----+---------+---------+--------+
//	64       72   76   80                                                      128
//	+--------+----+----+-----------------------------------------------------------+
//	|dirLock |dcnt|dseq|                         (zero)                            |
//	+--------+----+----+-----------------------------------------------------------+
//	128: directory entries ... dataOff: objects ... size
//
// Byte offsets, as named constants:
//
//	off  size  field
//	  0    8   magic        "SHMKITSG"
//	  8    4   version      layout version (2)
//	 12    4   kind         segment kind (KindSegment)
//	 16    8   size         total bytes; equals the file size
//	 24    8   dataOff      first byte of the object area
//	 32    4   dirCap       directory entries
//	 36    4   creatorPid
//	 40    8   creatorStart creator's start time (clock ticks since boot)
//	 48    8   created      creation time, Unix nanoseconds
//	 56    8   creatorNS    creator's PID namespace (inode of /proc/self/ns/pid)
//	 64    8   dirLock      allocator's procinfo word; 0 = free     [atomic]
//	 72    4   dirCount     published directory entries            [atomic]
//	 76    4   dirLockSeq   times dirLock was taken, wrapping      [atomic]
//	 80   48   (reserved, zero)
//	128  ...   directory: dirCap entries of dirEntrySize bytes
//	dataOff    objects, each CacheLine-aligned, up to size
//
// dirLock, dirCount and dirLockSeq sit on their own cache line (64..127):
// they are the only header words written after creation. dirLockSeq was
// reserved (zero) until it let a waiter tell a lock that passes from one
// that is stuck; older builds leave it as it is, which is why the layout
// version did not change.
const (
	segMagic   = "SHMKITSG"
	segVersion = 2

	offMagic        = 0
	offVersion      = 8
	offKind         = 12
	offSize         = 16
	offDataOff      = 24
	offDirCap       = 32
	offCreatorPid   = 36
	offCreatorStart = 40
	offCreated      = 48
	offCreatorNS    = 56
	offDirLock      = 64
	offDirCount     = 72
	offDirLockSeq   = 76

	headerSize = 2 * CacheLine // 128
	dirOff     = headerSize
)

// Directory entry layout (dirEntrySize bytes). An entry is written while the
// directory lock is held and never changes once dirCount covers it.
//
//	off  size  field
//	  0   64   name, NUL-padded (at most MaxObjectName bytes)
//	 64    8   offset of the object from the segment start
//	 72    8   size of the object in bytes, header included
//	 80    2   kind (copy of the object header's, for listings)
//	 82   46   (reserved, zero)
const (
	dirEntrySize = 2 * CacheLine
	entName      = 0
	entOff       = 64
	entSize      = 72
	entKind      = 80
	maxDirCap    = 1 << 16
)

const (
	// MaxObjectName is the longest name of an object in a segment.
	MaxObjectName = 63
	// DefaultDirCap is the number of directory entries a segment gets
	// unless WithDirCap says otherwise.
	DefaultDirCap = 64
)

// Object header layout (ObjectHeaderSize bytes), at the start of every
// object. The object's own fields follow it (its "body").
//
//	off  size  field
//	  0    4   magic "SHMO"
//	  4    2   version     the object kind's layout version
//	  6    2   kind
//	  8    4   type size   element type fingerprint: size,
//	 12    4   type align  alignment,
//	 16    8   type hash   and hash of name and field layout
//	 24    8   capacity    elements, slots or bytes: the kind says which
//	 32    8   body size   bytes after the header
//	 40   24   (reserved, zero)
const (
	ObjectHeaderSize = CacheLine
	objMagic         = "SHMO"
	objOffVersion    = 4
	objOffKind       = 6
	objOffTypeSize   = 8
	objOffTypeAlign  = 12
	objOffTypeHash   = 16
	objOffCapacity   = 24
	objOffBodySize   = 32
)

var le = binary.LittleEndian

// header is the decoded segment header.
type header struct {
	version      uint32
	kind         uint32
	size         uint64
	dataOff      uint64
	dirCap       uint32
	creatorPid   uint32
	creatorStart uint64
	created      int64
	creatorNS    uint64
}

// segMagicWord is segMagic as the little-endian word at offMagic.
var segMagicWord = le.Uint64([]byte(segMagic))

// encodeHeader writes h into b (at least headerSize bytes, 8-byte aligned:
// a mapping's start) Agrona's way: every field first, the magic last, with
// a release store. A header read before the magic is there is no segment
// yet. (The magic went first: a Collect that read the header in between
// saw a creator PID of zero, dead, and unlinked the segment being made.)
func encodeHeader(b []byte, h *header) {
	le.PutUint32(b[offVersion:], h.version)
	le.PutUint32(b[offKind:], h.kind)
	le.PutUint64(b[offSize:], h.size)
	le.PutUint64(b[offDataOff:], h.dataOff)
	le.PutUint32(b[offDirCap:], h.dirCap)
	le.PutUint32(b[offCreatorPid:], h.creatorPid)
	le.PutUint64(b[offCreatorStart:], h.creatorStart)
	le.PutUint64(b[offCreated:], uint64(h.created))
	le.PutUint64(b[offCreatorNS:], h.creatorNS)
	headerWrite()
	word64At(b, offMagic).Store(segMagicWord) // publishes: the header, every field above (observed by readHeader)
}

// headerWrite runs between a new header's fields and its magic: a test
// runs Collect there.
var headerWrite = func() {}

// decodeHeader checks and decodes a segment header. fileSize is the size of
// the file it was read from (the mapping's length), or -1 if unknown.
// It never panics, whatever b holds.
func decodeHeader(b []byte, fileSize int64) (*header, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), headerSize)
	}
	if string(b[offMagic:offMagic+8]) != segMagic {
		return nil, fmt.Errorf("%w: bad magic %q, not a shmkit segment", ErrIncompatible, b[offMagic:offMagic+8])
	}
	h := &header{
		version:      le.Uint32(b[offVersion:]),
		kind:         le.Uint32(b[offKind:]),
		size:         le.Uint64(b[offSize:]),
		dataOff:      le.Uint64(b[offDataOff:]),
		dirCap:       le.Uint32(b[offDirCap:]),
		creatorPid:   le.Uint32(b[offCreatorPid:]),
		creatorStart: le.Uint64(b[offCreatorStart:]),
		created:      int64(le.Uint64(b[offCreated:])),
		creatorNS:    le.Uint64(b[offCreatorNS:]),
	}
	if h.version != segVersion {
		return nil, fmt.Errorf("%w: %w: layout version %d, this build reads %d", ErrIncompatible, ErrOtherVersion, h.version, segVersion)
	}
	if h.kind != KindSegment {
		return nil, fmt.Errorf("%w: segment kind %d, want %d", ErrIncompatible, h.kind, KindSegment)
	}
	if fileSize >= 0 && h.size != uint64(fileSize) {
		return nil, fmt.Errorf("%w: header says %d bytes, file has %d (truncated?)", ErrCorrupt, h.size, fileSize)
	}
	if h.dirCap == 0 || h.dirCap > maxDirCap {
		return nil, fmt.Errorf("%w: directory capacity %d", ErrCorrupt, h.dirCap)
	}
	minData := uint64(dirOff) + uint64(h.dirCap)*dirEntrySize
	if h.dataOff < minData || h.dataOff%CacheLine != 0 || h.dataOff > h.size {
		return nil, fmt.Errorf("%w: data offset %d outside [%d, %d]", ErrCorrupt, h.dataOff, minData, h.size)
	}
	return h, nil
}

// TypeID fingerprints the element type of an object: size, alignment and a
// hash of its name and field layout. Two TypeIDs are equal when the types
// are interchangeable in shared memory. The zero TypeID means "bytes".
type TypeID struct {
	Size  uint32
	Align uint32
	Hash  uint64
}

// String returns the fingerprint as "{size S, align A, hash H}".
func (t TypeID) String() string {
	return fmt.Sprintf("{size %d, align %d, hash %#016x}", t.Size, t.Align, t.Hash)
}

// ObjectSpec describes an object to allocate or to expect on lookup.
type ObjectSpec struct {
	Kind     Kind
	Version  uint16 // the kind's layout version
	Type     TypeID // element type; zero for untyped objects
	Capacity uint64 // elements, slots or bytes: the kind says which
	BodySize int    // bytes after the object header
	// Sparse makes Alloc leave the body as it is instead of zeroing it:
	// for an object in the sparse tail of a segment (WithSparse), whose
	// pages its owner reserves page by page as it uses them. Zeroing
	// would touch, and so allocate, every page.
	Sparse bool
}

// ObjectHeader is a decoded object header.
type ObjectHeader struct {
	Kind     Kind
	Version  uint16
	Type     TypeID
	Capacity uint64
	BodySize uint64
}

func encodeObjectHeader(b []byte, s *ObjectSpec) {
	copy(b, objMagic)
	le.PutUint16(b[objOffVersion:], s.Version)
	le.PutUint16(b[objOffKind:], uint16(s.Kind))
	le.PutUint32(b[objOffTypeSize:], s.Type.Size)
	le.PutUint32(b[objOffTypeAlign:], s.Type.Align)
	le.PutUint64(b[objOffTypeHash:], s.Type.Hash)
	le.PutUint64(b[objOffCapacity:], s.Capacity)
	le.PutUint64(b[objOffBodySize:], uint64(s.BodySize))
}

// DecodeObjectHeader decodes the header at the start of b and checks that the
// body it announces fits in b. It never panics.
func DecodeObjectHeader(b []byte) (ObjectHeader, error) {
	var h ObjectHeader
	if len(b) < ObjectHeaderSize {
		return h, fmt.Errorf("%w: object of %d bytes, shorter than its header", ErrCorrupt, len(b))
	}
	if string(b[:4]) != objMagic {
		return h, fmt.Errorf("%w: bad object magic %q", ErrCorrupt, b[:4])
	}
	h.Version = le.Uint16(b[objOffVersion:])
	h.Kind = Kind(le.Uint16(b[objOffKind:]))
	h.Type = TypeID{le.Uint32(b[objOffTypeSize:]), le.Uint32(b[objOffTypeAlign:]), le.Uint64(b[objOffTypeHash:])}
	h.Capacity = le.Uint64(b[objOffCapacity:])
	h.BodySize = le.Uint64(b[objOffBodySize:])
	if h.BodySize > uint64(len(b)-ObjectHeaderSize) {
		return h, fmt.Errorf("%w: object body of %d bytes in %d", ErrCorrupt, h.BodySize, len(b)-ObjectHeaderSize)
	}
	return h, nil
}

// Check compares h with what spec expects and says what differs.
// spec.Capacity and spec.BodySize are not compared: the existing object's
// are the ones that count.
func (h ObjectHeader) Check(spec *ObjectSpec) error {
	switch {
	case h.Kind != spec.Kind:
		return fmt.Errorf("%w: object is a %v, not a %v", ErrIncompatible, h.Kind, spec.Kind)
	case h.Version != spec.Version:
		return fmt.Errorf("%w: %v layout version %d, this build reads %d", ErrIncompatible, h.Kind, h.Version, spec.Version)
	case h.Type != spec.Type:
		return fmt.Errorf("%w: element type %v, caller has %v", ErrIncompatible, h.Type, spec.Type)
	}
	return nil
}
