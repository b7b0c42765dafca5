package queue

import (
	"errors"

	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrClosed is returned by Put on a closed queue, and by Get once a
	// closed queue is empty.
	ErrClosed = errors.New("queue: closed")
	// ErrPeerDead is returned by a Get waiting on an empty queue whose
	// producers have all exited or died, and by a Put waiting on a full
	// queue whose consumers have. It is ringbuf.ErrPeerDead.
	ErrPeerDead = ringbuf.ErrPeerDead
	// ErrTooLarge is returned by Put for a message over the queue's limit;
	// the error says the limit.
	ErrTooLarge = errors.New("queue: message too large")
	// ErrTaskDone is returned by Joinable.TaskDone called more times than
	// there were Puts (Python's ValueError).
	ErrTaskDone = errors.New("queue: TaskDone called more times than Put")
	// ErrCorrupt means the queue's shared memory holds garbage.
	ErrCorrupt = shm.ErrCorrupt
)
