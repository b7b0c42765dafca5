package queue

import (
	"context"
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// Joinable is a Queue that also counts unfinished tasks, Python's
// JoinableQueue: every Put adds one, every TaskDone takes one away, and
// Join waits until the count is back to zero. The count lives in shared
// memory, so producers, consumers and joiners may be different processes.
// A Joinable travels to workers as a handle, like a Queue.
type Joinable[T any] struct {
	*Queue[T]
}

// CreateJoinable makes a new joinable queue called name in seg.
func CreateJoinable[T any](seg *shm.Segment, name string, o Options[T]) (*Joinable[T], error) {
	q, err := create(seg, name, o, flagJoinable)
	if err != nil {
		return nil, err
	}
	return &Joinable[T]{q}, nil
}

// OpenJoinable finds the joinable queue called name in seg.
func OpenJoinable[T any](seg *shm.Segment, name string, o Options[T]) (*Joinable[T], error) {
	q, err := Open(seg, name, o)
	if err != nil {
		return nil, err
	}
	if !q.joinable {
		return nil, fmt.Errorf("%w: queue %q is not joinable", shm.ErrIncompatible, name)
	}
	return &Joinable[T]{q}, nil
}

// NewJoinable makes a joinable queue in an anonymous segment of its own
// (see New).
func NewJoinable[T any](o Options[T]) (*Joinable[T], error) {
	q, err := newAnon(o, flagJoinable)
	if err != nil {
		return nil, err
	}
	return &Joinable[T]{q}, nil
}

// TaskDone says that a task got from the queue is finished. Calling it more
// times than values were put returns ErrTaskDone and changes nothing.
func (j *Joinable[T]) TaskDone() error {
	for {
		n := j.ctl.unfinished.Load()
		if n == 0 {
			return fmt.Errorf("%w (queue %q)", ErrTaskDone, j.name)
		}
		if j.ctl.unfinished.CompareAndSwap(n, n-1) { // n unfinished -> n-1
			if n == 1 {
				j.ctl.join.Notify()
			}
			return nil
		}
	}
}

// Unfinished returns the number of tasks put and not yet TaskDone.
func (j *Joinable[T]) Unfinished() int { return int(j.ctl.unfinished.Load()) }

// Join waits until every task put has been marked done, or ctx is done. It
// returns ErrPeerDead if tasks remain and every consumer has exited.
func (j *Joinable[T]) Join(ctx context.Context) error {
	o := j.putWait // same strategy; Check: are the consumers gone?
	return j.ctl.join.Wait(ctx, &o, func() (bool, error) { return j.ctl.unfinished.Load() == 0, nil })
}

// GobDecode attaches to the joinable queue a handle names.
func (j *Joinable[T]) GobDecode(b []byte) error {
	q := new(Queue[T])
	if err := q.GobDecode(b); err != nil {
		return err
	}
	if !q.joinable {
		return fmt.Errorf("%w: queue %q is not joinable", shm.ErrIncompatible, q.name)
	}
	j.Queue = q
	return nil
}

// undoPut takes back the unfinished count of a Put that failed.
func (q *Queue[T]) undoPut() {
	if q.ctl.unfinished.Add(^uint32(0)) == 0 {
		q.ctl.join.Notify()
	}
}

// SimpleQueue is Python's SimpleQueue: a Queue (Python's lacks the bound
// and qsize; this one has them).
type SimpleQueue[T any] = Queue[T]
