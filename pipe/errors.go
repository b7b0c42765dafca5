package pipe

import (
	"errors"

	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrClosed is returned by calls on a Conn that was closed.
	ErrClosed = errors.New("pipe: connection closed")
	// ErrPeerDead is returned by a call waiting on a peer whose process has
	// exited or died without closing its end.
	ErrPeerDead = ringbuf.ErrPeerDead
	// ErrOneWay is returned by Send on the receiving end of a one-way pipe,
	// and by Recv on its sending end.
	ErrOneWay = errors.New("pipe: wrong direction for a one-way pipe")
	// ErrTooLarge is returned by a send of a message over the pipe's
	// limit (Options.MaxMessage); the error says the limit.
	ErrTooLarge = errors.New("pipe: message too large")
	// ErrCorrupt means the pipe's shared memory holds garbage.
	ErrCorrupt = shm.ErrCorrupt
)
