package queue

import (
	"errors"

	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrShutdown is returned by Put on a queue that has been shut down,
	// and by Get once such a queue is empty (Python's queue.ShutDown).
	ErrShutdown = errors.New("queue: shut down")
	// ErrClosed is returned by a call on a handle that has been closed
	// (Close); the queue itself may live on in other handles.
	ErrClosed = errors.New("queue: handle closed")
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
