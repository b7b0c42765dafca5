package value

import (
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrUnsupportedType: T holds a pointer, string, slice, map, interface,
	// channel or function. The error names the offending field.
	ErrUnsupportedType = shm.ErrUnsupportedType
	// ErrIncompatible: the object found by Open or in a handle is not a
	// value of this T (or is the other variant, raw or locked); the error
	// says what differs.
	ErrIncompatible = shm.ErrIncompatible
	// ErrCorrupt: the object found by Open or in a handle holds values
	// that cannot be right (a capacity other than one element, a body too
	// short for it); the error says what.
	ErrCorrupt = shm.ErrCorrupt
	// ErrOwnerDead: LockContext took the lock over from a process that died
	// holding it. The lock is held; the value may hold a half-written T.
	ErrOwnerDead = semaphore.ErrOwnerDead
	// ErrNotRecoverable: the value's lock word says that no call may take
	// the lock again. Package value's own calls always repair a lock taken
	// over from a dead process, so this is memory another process
	// corrupted; the context forms report it, the plain forms do what
	// their documentation says and never panic or wait for it.
	ErrNotRecoverable = semaphore.ErrNotRecoverable
)
