package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/ringbuf"

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
// times than values were put returns ErrTaskDone and changes nothing. Call
// it in the process that got the task: each process's count of tasks got
// and done is what Join counts out when that process dies.
func (j *Joinable[T]) TaskDone() error {
	if !j.enter() {
		return ErrClosed
	}
	defer j.calls.leave()
	r := j.record()
	if r == nil {
		if j.ctl.untrackedGot.Load() <= j.ctl.untrackedDone.Load() && j.unfinished() <= 0 {
			return fmt.Errorf("%w (queue %q)", ErrTaskDone, j.name)
		}
		j.ctl.untrackedDone.Add(1)
	} else {
		// Only this process writes its record: got - done cannot change
		// under us except upwards (another goroutine's Get).
		if r.got.Load() <= r.done.Load() && j.unfinished() <= 0 {
			return fmt.Errorf("%w (queue %q)", ErrTaskDone, j.name)
		}
		r.done.Add(1)
	}
	j.ctl.join.Notify() // a load when nobody joins
	return nil
}

// Unfinished returns the number of tasks put and not yet TaskDone: a
// snapshot. Tasks held by processes that died are counted out (see Join).
func (j *Joinable[T]) Unfinished() int {
	if !j.enter() {
		return 0
	}
	defer j.calls.leave()
	j.countOut()
	return int(max(j.unfinished(), 0))
}

// Join waits until every task put has been marked done, or ctx is done.
//
// A consumer that dies between Get and TaskDone takes its tasks with it:
// they were handed to user code, so they cannot be handed again without
// running twice. Join counts them out (the dead process's record) and,
// once the rest are done, returns an error matching ErrPeerDead that says
// how many tasks were lost and which process held them. It reports every
// task lost since this handle was made or its last Join that reported,
// whoever counted it out (Unfinished, or another process, may notice the
// death first); a later Join starts afresh. A consumer killed inside Get,
// before its message was handed over, loses nothing: another consumer's
// Get delivers it. Join returns ErrPeerDead at once if tasks remain and
// every consumer has exited.
func (j *Joinable[T]) Join(ctx context.Context) error {
	if !j.enter() {
		return ErrClosed
	}
	defer j.calls.leave()
	// Losses counted out before this Join began are its to report too:
	// the process that noticed the death first (an Unfinished, a new
	// consumer taking the dead one's record) reports to nobody, and a
	// baseline taken here lost them in silence
	// (TestJoinReportsTasksCountedOutBeforeIt).
	lost := j.lostSeen.Load()
	o := j.putWait // same strategy
	o.Check = j.joinCheck
	err := j.ctl.join.Wait(ctx, &o, func() (bool, error) {
		if j.closed.Load() {
			return false, ErrClosed
		}
		return j.unfinished() <= 0, nil
	})
	if now := j.ctl.lost.Load(); now != lost && (err == nil || errors.Is(err, ErrPeerDead)) {
		n := now - lost
		// Reported: the next Join starts from now. (Joins of this handle
		// that end together each report, and leave the highest count.)
		for seen := j.lostSeen.Load(); seen < now && !j.lostSeen.CompareAndSwap(seen, now); seen = j.lostSeen.Load() {
		}
		return fmt.Errorf("%w: %d task(s) of queue %q got and never done: the consumer process (pid %d) died", ErrPeerDead, n, j.name, j.ctl.lostPid.Load())
	}
	return err
}

// joinCheck is a blocked Join's periodic check: dead producers' slots are
// given up and dead consumers' tasks counted out (both change what ready
// reads: Recheck when that may now hold), then, with tasks left, is any
// consumer alive? The rescue's retry alone is no reason to recheck: it
// also reports a dead consumer's claimed message readied for adoption by
// this handle's next Get, which a Join never makes, so it reported it at
// every poll, and a Join whose only consumer was killed inside Get never
// came to ask whether a consumer was left: it waited forever
// (TestJoinConsumerKilledMidGetAlone).
func (j *Joinable[T]) joinCheck() error {
	retry, err := j.rx.RescueEmpty()
	if errors.Is(err, ringbuf.ErrCorrupt) {
		return fmt.Errorf("queue %q: %w", j.name, err)
	}
	if retry {
		j.wakeAll() // the others too: see wakeAll
	}
	if (j.countOut() || retry) && j.unfinished() <= 0 {
		return notify.Recheck
	}
	return j.consumersDead()
}

// unfinished derives the count of unfinished tasks: the ring's outstanding
// messages, read first, then each record (done before got), so that a task
// moving from the ring into a record meanwhile is counted at least once.
func (j *Joinable[T]) unfinished() int64 {
	n := int64(j.rx.Outstanding())
	for i := range j.ctl.tasks {
		r := &j.ctl.tasks[i]
		w := r.ident.Load()
		if w == 0 || procinfo.IsHandoff(w) {
			continue // free, being set up, or being counted out
		}
		done := r.done.Load()
		got := r.got.Load()
		if r.ident.Load() != w {
			// Counted out (its tasks are in lost now) or reset while we
			// read: the two counts may be from either side of it.
			continue
		}
		n += int64(got - done)
	}
	done := j.ctl.untrackedDone.Load()
	return n + int64(j.ctl.untrackedGot.Load()-done)
}

// gotTask counts a task got by this process.
func (q *Queue[T]) gotTask() {
	if r := q.record(); r != nil {
		r.got.Add(1)
	} else {
		q.ctl.untrackedGot.Add(1)
	}
}

// record returns this process's task record, taking one on first use (a
// free one, or a dead process's once counted out); nil when every record
// belongs to a live process (the untracked pair counts for this process
// then, and its death goes unnoticed).
func (q *Queue[T]) record() *taskRecord {
	if r := q.task.Load(); r != nil {
		return r
	}
	q.taskMu.Lock()
	defer q.taskMu.Unlock()
	if r := q.task.Load(); r != nil {
		return r
	}
	me := procinfo.Self().Word()
	tasks := q.ctl.tasks
	for i := range tasks {
		if tasks[i].ident.Load() == me {
			q.task.Store(&tasks[i])
			return &tasks[i]
		}
	}
	q.countOut()
	for i := range tasks {
		// A free record has got == done (countOut leaves it so); it is
		// zeroed before it is ours, so no reader sums stale counts.
		if tasks[i].ident.CompareAndSwap(0, procinfo.HandoffWord(me)) { // free -> being set up
			tasks[i].got.Store(0)
			tasks[i].done.Store(0)
			tasks[i].ident.Store(me) // publishes: the record is this process's
			q.task.Store(&tasks[i])
			return &tasks[i]
		}
	}
	return nil
}

// countOut frees the records of dead processes. Tasks a dead process got
// and never marked done are lost (added to lost, with its PID); a dead
// process that marked more done than it got (for tasks another process
// got) moves its surplus to the untracked pair so the sum stays right. It
// reports whether it freed any record.
func (q *Queue[T]) countOut() bool {
	freed := false
	for i := range q.ctl.tasks {
		r := &q.ctl.tasks[i]
		w := r.ident.Load()
		if w == 0 || procinfo.AliveWord(w) {
			continue
		}
		mark := procinfo.HandoffWord(procinfo.Self().Word())
		if !r.ident.CompareAndSwap(w, mark) { // dead -> being counted out by this process
			continue
		}
		done := r.done.Load()
		got := r.got.Load()
		if procinfo.IsHandoff(w) {
			// A record whose setter (or counter) died in the middle: its
			// counts are stale. (A counter that died between its CAS and
			// its addition to lost takes that report with it: two deaths.)
			got, done = 0, 0
		}
		// The counts stay as they are (record zeroes them before a new
		// owner publishes itself): a reader between our CAS and our free
		// sees the ident change and skips the record.
		if got > done {
			q.ctl.lostPid.Store(uint32(procinfo.FromWord(w).Pid))
			q.ctl.lost.Add(got - done)
		} else if done > got {
			q.ctl.untrackedDone.Add(done - got)
		}
		r.ident.Store(0) // being counted out -> free
		freed = true
	}
	if freed {
		q.ctl.join.Notify() // the count is lower (see wakeAll)
	}
	return freed
}

// GobDecode attaches to the joinable queue a handle names.
func (j *Joinable[T]) GobDecode(b []byte) error {
	q := new(Queue[T])
	if err := q.GobDecode(b); err != nil {
		return err
	}
	if !q.joinable {
		q.Close()
		return fmt.Errorf("%w: queue %q is not joinable", shm.ErrIncompatible, q.name)
	}
	j.Queue = q
	return nil
}

// SimpleQueue is Python's SimpleQueue: a Queue (Python's lacks the bound
// and qsize; this one has them).
type SimpleQueue[T any] = Queue[T]
