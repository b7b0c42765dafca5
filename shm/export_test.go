package shm

import (
	"os"
	"time"
)

// Internals for the tests of package shm_test.

const (
	HeaderSize      = headerSize
	SegVersion      = segVersion
	OffMagic        = offMagic
	OffVersion      = offVersion
	OffKind         = offKind
	OffSize         = offSize
	OffDataOff      = offDataOff
	OffDirCap       = offDirCap
	OffDirLock      = offDirLock
	OffCreatorPid   = offCreatorPid
	OffCreatorStart = offCreatorStart
	OffCreatorNS    = offCreatorNS
	OffDirCount     = offDirCount
	DirEntrySize    = dirEntrySize
	PageSize        = pageSize
	DirOff          = dirOff
)

// SetDirLockWait sets how long Alloc waits for a directory lock word that
// does not change, and returns a function that restores it.
func SetDirLockWait(d time.Duration) (restore func()) {
	old := dirLockWait
	dirLockWait = d
	return func() { dirLockWait = old }
}

// SetLockDirCheck makes Alloc call f before each of its checks of a held
// directory lock word for a dead or stuck holder, and returns a function
// that restores the default.
func SetLockDirCheck(f func()) (restore func()) {
	old := lockDirCheck
	lockDirCheck = f
	return func() { lockDirCheck = old }
}

// SetHeaderWrite makes Create call f while it writes a new segment's
// header, between the header's stores, and returns a function that
// restores the default.
func SetHeaderWrite(f func()) (restore func()) {
	old := headerWrite
	headerWrite = f
	return func() { headerWrite = old }
}

// SetCollectUnlink makes Collect call f with a dead creator's segment's
// path just before it unlinks it, and returns a function that restores
// the default.
func SetCollectUnlink(f func(path string)) (restore func()) {
	old := collectUnlink
	collectUnlink = f
	return func() { collectUnlink = old }
}

// File returns the file behind s (an anonymous segment's memfd).
func File(s *Segment) *os.File { return s.file }

// DecodeHeader exposes decodeHeader: it returns the decoded size and data
// offset for the checks the fuzzer makes.
func DecodeHeader(b []byte, fileSize int64) (size, dataOff uint64, dirCap uint32, err error) {
	h, err := decodeHeader(b, fileSize)
	if err != nil {
		return 0, 0, 0, err
	}
	return h.size, h.dataOff, h.dirCap, nil
}

// EncodeHeader writes a valid header for a segment of total bytes with
// dirCap directory entries into b.
func EncodeHeader(b []byte, total, dataOff uint64, dirCap uint32) {
	encodeHeader(b, &header{version: segVersion, kind: KindSegment, size: total, dataOff: dataOff, dirCap: dirCap})
}

// AttachRefs returns how many Segments that Attach returned for h are
// open, 0 when h's mapping is gone.
func AttachRefs(h Handle) int {
	attachMu.Lock()
	defer attachMu.Unlock()
	if a := attached[h]; a != nil {
		return a.refs
	}
	return 0
}
