package array

import (
	"errors"

	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrUnsupportedType: T holds a pointer, string, slice, map, interface,
	// channel or function. The error names the offending field.
	ErrUnsupportedType = shm.ErrUnsupportedType
	// ErrIncompatible: the object found by Open or in a handle is not an
	// array of this T (or is the other variant, raw or locked); the error
	// says what differs.
	ErrIncompatible = shm.ErrIncompatible
	// ErrOwnerDead: LockContext took the lock over from a process that died
	// holding it. The lock is held; the array may hold a half-done write.
	ErrOwnerDead = semaphore.ErrOwnerDead
	// ErrNotRecoverable: the array's lock word says that no call may take
	// the lock again. Package array's own calls always repair a lock taken
	// over from a dead process, so this is memory another process
	// corrupted; the context forms, ReadAt and WriteAt report it, the
	// plain forms do what their documentation says and never panic or
	// wait for it.
	ErrNotRecoverable = semaphore.ErrNotRecoverable
	// ErrOutOfRange: an index or offset outside the array. At and Set
	// panic with an error matching it (as indexing a slice panics); ReadAt
	// and WriteAt return one.
	ErrOutOfRange = errors.New("array: index out of range")
)
