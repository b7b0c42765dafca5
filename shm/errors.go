package shm

import "errors"

var (
	// ErrExist: a segment or object of that name already exists.
	ErrExist = errors.New("shm: already exists")
	// ErrNotExist: no segment or object of that name.
	ErrNotExist = errors.New("shm: does not exist")
	// ErrInvalidName: the name is empty, too long, or holds '/', NUL or "..".
	ErrInvalidName = errors.New("shm: invalid name")
	// ErrIncompatible: the segment or object is of another kind, layout
	// version or element type than the caller asked for; the error says what
	// differs.
	ErrIncompatible = errors.New("shm: incompatible")
	// ErrOtherVersion: a shmkit segment (its magic is right) of a layout
	// version this build does not read, made by another build. It matches
	// ErrIncompatible too. shmkit rm removes such a segment by name.
	ErrOtherVersion = errors.New("shm: another layout version")
	// ErrCorrupt: the header or directory holds values that cannot be right
	// (truncated file, sizes out of range).
	ErrCorrupt = errors.New("shm: corrupt")
	// ErrNoSpace: the shared-memory file system, the segment or its
	// directory is full.
	ErrNoSpace = errors.New("shm: no space")
	// ErrClosed: the segment was closed.
	ErrClosed = errors.New("shm: segment closed")
	// ErrReadOnly: the segment was opened with ReadOnly, and the call
	// would write to it (Alloc), or would open an object that writes to
	// shared words even to read (Lookup with a spec of any kind but
	// KindBytes: locks, rings, queues, pipes, values).
	ErrReadOnly = errors.New("shm: segment opened read-only")
)

// sentinelError carries a sentinel for errors.Is and wraps the underlying
// system error, so that both errors.Is(err, ErrExist) and
// errors.Is(err, unix.EEXIST) hold.
type sentinelError struct {
	sentinel error
	err      error
}

func (e *sentinelError) Error() string        { return e.err.Error() }
func (e *sentinelError) Unwrap() error        { return e.err }
func (e *sentinelError) Is(target error) bool { return target == e.sentinel }

func wrap(sentinel, err error) error { return &sentinelError{sentinel, err} }

// ErrUnsupportedType: a Go type that cannot live in shared memory (it holds a
// pointer, string, slice, map, interface, channel or function). The error
// names the offending field.
var ErrUnsupportedType = errors.New("shm: type is not fixed-size and pointer-free")
