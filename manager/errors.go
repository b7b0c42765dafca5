package manager

import (
	"errors"

	"github.com/shmkit/shmkit/pipe"
)

var (
	// ErrPeerDead is returned by a call whose server process died (or, in
	// the server, whose client died): at once, not after a timeout.
	ErrPeerDead = pipe.ErrPeerDead
	// ErrClosed is returned by calls on a manager that was shut down.
	ErrClosed = errors.New("manager: shut down")
	// ErrIndex is Python's IndexError: a List index out of range, a Pop
	// from an empty List.
	ErrIndex = errors.New("manager: index out of range")
	// ErrNotFound is Python's ValueError of list.index and list.remove: the
	// value is not in the List.
	ErrNotFound = errors.New("manager: value not found")
	// ErrNotNumber is returned by Add on a value that is not a number, or
	// that is stored as another kind of number.
	ErrNotNumber = errors.New("manager: not a number")
	// ErrType is returned when a stored value does not decode as the
	// type asked for (a Namespace attribute read as another type).
	ErrType = errors.New("manager: value of another type")
	// ErrNotRegistered names a type, method or update function that the
	// server's program does not register.
	ErrNotRegistered = errors.New("manager: not registered")
	// ErrTooLarge is returned for a request or reply larger than the
	// channel's largest message.
	ErrTooLarge = errors.New("manager: message too large")
	// ErrBadReply is returned for a reply that does not decode: a server
	// of another build, or corrupt memory.
	ErrBadReply = errors.New("manager: malformed reply")
)

// noServerError is Connect's error where no server listens at addr: a
// server that never ran there, or one shut down. err is the call's, which
// matches ErrClosed and pipe.ErrRefused.
type noServerError struct {
	addr string
	err  error
}

func (e *noServerError) Error() string {
	return "manager: no server at " + e.addr + " (never started there, or shut down)"
}
func (e *noServerError) Unwrap() error { return e.err }

// UpdateError is returned when a registered update function or method
// returned an error in the server: nothing was stored.
type UpdateError struct {
	Name string // the function or method
	Msg  string // its error's text
}

func (e *UpdateError) Error() string { return "manager: " + e.Name + ": " + e.Msg }
