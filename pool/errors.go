package pool

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	// ErrWorkerDied matches the error of every task that a worker held when
	// it died (killed by a signal, exited, or crashed outside a task).
	ErrWorkerDied = errors.New("pool: worker died")
	// ErrPanicked matches the error of a task whose function panicked.
	ErrPanicked = errors.New("pool: task panicked")
	// ErrClosed: a call on a pool that was closed or terminated, or a task
	// withdrawn by Terminate.
	ErrClosed = errors.New("pool: closed")
	// ErrNotRegistered: a worker was asked to run a function that its
	// program does not register (the parent and worker binaries differ?).
	ErrNotRegistered = errors.New("pool: function not registered")
	// ErrTooLarge: a chunk of inputs, or one result, does not fit the
	// pool's message buffer (WithBufferSize).
	ErrTooLarge = errors.New("pool: message too large")
)

// WorkerError is the error of a task that a worker held when it died.
// It matches ErrWorkerDied.
type WorkerError struct {
	Worker string // the worker's name, "ForkPoolWorker-3" say
	Pid    int
	Code   int    // exit status; -N when killed by signal N (as Python's exitcode)
	Stderr string // the tail of the worker's standard error
}

// Error names the worker, its PID and how it ended.
func (e *WorkerError) Error() string {
	how := fmt.Sprintf("exited with status %d", e.Code)
	if e.Code < 0 {
		how = fmt.Sprintf("killed by signal %d (%s)", -e.Code, unix.SignalName(unix.Signal(-e.Code)))
	}
	s := fmt.Sprintf("pool: worker %s (pid %d) died holding the task: %s", e.Worker, e.Pid, how)
	if t := strings.TrimSpace(e.Stderr); t != "" {
		s += "\n" + t
	}
	return s
}

// Is makes errors.Is(err, ErrWorkerDied) hold.
func (e *WorkerError) Is(target error) bool { return target == ErrWorkerDied }

// TaskError is the error a task function returned, or its panic, as the
// worker reported it: the message travels, the error value does not. It
// is also a failure the worker made itself, which matches its sentinel:
// a result too large for a record (ErrTooLarge), a function the worker
// does not register (ErrNotRegistered).
type TaskError struct {
	Worker   string // the worker that ran the task
	Pid      int
	Msg      string // the error's message, or the panic value printed
	Panicked bool
	Stack    string // the goroutine's stack at the panic

	sentinel error // ErrTooLarge or ErrNotRegistered, for the worker's own failures
}

// Error returns the message; a panic's carries its stack.
func (e *TaskError) Error() string {
	if e.Panicked {
		return fmt.Sprintf("pool: task panicked in %s (pid %d): %s\n\n%s", e.Worker, e.Pid, e.Msg, e.Stack)
	}
	return e.Msg
}

// Is makes errors.Is(err, ErrPanicked) hold for a panic, and
// errors.Is(err, ErrTooLarge) or errors.Is(err, ErrNotRegistered) for
// those failures.
func (e *TaskError) Is(target error) bool {
	return e.Panicked && target == ErrPanicked || e.sentinel != nil && target == e.sentinel
}

// MapError is the error of a Map (or Starmap, MapShared) in which some tasks
// failed: Errs has one entry per input, nil where the task succeeded.
// errors.Is and errors.As look through every failure.
type MapError struct {
	Errs   []error
	Failed int // the number of non-nil entries
}

// Error counts the failures and shows the first.
func (e *MapError) Error() string {
	for i, err := range e.Errs {
		if err != nil {
			return fmt.Sprintf("pool: %d of %d tasks failed; task %d: %v", e.Failed, len(e.Errs), i, err)
		}
	}
	return "pool: no task failed"
}

// Unwrap returns the failures.
func (e *MapError) Unwrap() []error {
	out := make([]error, 0, e.Failed)
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
