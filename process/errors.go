package process

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrPanicked matches the error of a worker that panicked.
	ErrPanicked = errors.New("process: worker panicked")
	// ErrNotRegistered: the child was asked to run a worker that the
	// program does not register (the parent and child binaries differ?).
	ErrNotRegistered = errors.New("process: worker not registered")
	// ErrNotStarted: Wait or a signal on a process that never started.
	ErrNotStarted = errors.New("process: not started")
)

// ExitError is the error Wait returns for a child that did not exit 0.
type ExitError struct {
	Name     string
	Pid      int
	Code     int    // exit status; -N when killed by signal N (as Python's exitcode)
	Stderr   string // the last few KiB of the child's standard error
	Panicked bool   // the worker panicked
	ctxErr   error  // set when the child was killed because its context ended
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s (pid %d): ", e.Name, e.Pid)
	switch {
	case e.Panicked:
		b.WriteString("panicked")
	case e.Code < 0:
		fmt.Fprintf(&b, "killed by signal %d", -e.Code)
	default:
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if e.ctxErr != nil {
		fmt.Fprintf(&b, " (%v)", e.ctxErr)
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		b.WriteString(": ")
		b.WriteString(tail)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrPanicked) hold for a panicked worker.
func (e *ExitError) Is(target error) bool { return target == ErrPanicked && e.Panicked }

// Unwrap returns the context's error when the child was killed because the
// context given to Start ended.
func (e *ExitError) Unwrap() error { return e.ctxErr }
