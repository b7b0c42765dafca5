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
	// ErrNoMain: the child never ran its worker because the program's main
	// does not call Main (or returns before it). Wait returns an *ExitError
	// that matches it, whatever the child's exit status.
	ErrNoMain = errors.New("process: the worker never ran: main does not call process.Main")
	// ErrExited: the cause of a WhileRuns context that ended because its
	// process exited.
	ErrExited = errors.New("process: exited")
)

// ExitError is the error Wait returns for a child that did not exit 0, or
// that exited 0 without running its worker (Code 0, matching ErrNoMain).
type ExitError struct {
	Name     string
	Pid      int
	Code     int    // exit status; -N when killed by signal N (as Python's exitcode)
	Stderr   string // the last few KiB of the child's standard error
	Panicked bool   // the worker panicked
	ctxErr   error  // set when the child was killed because its context ended
	noMain   bool   // the child never ran the worker: its main does not call Main
}

// maxErrorTail bounds the stderr an ExitError's message repeats; the full
// tail stays in Stderr.
const maxErrorTail = 512

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s (pid %d): ", e.Name, e.Pid)
	switch {
	case e.Panicked:
		b.WriteString("panicked")
	case e.noMain && e.Code == 0:
		b.WriteString("exit status 0 without running the worker: the program's main does not call process.Main")
	case e.Code < 0:
		fmt.Fprintf(&b, "killed by signal %d", -e.Code)
	default:
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if e.ctxErr != nil {
		fmt.Fprintf(&b, " (%v)", e.ctxErr)
	}
	if e.Panicked {
		if line := panicLine(e.Stderr); line != "" {
			b.WriteString(": ")
			b.WriteString(line)
		}
		return b.String()
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		if len(tail) > maxErrorTail {
			tail = tail[len(tail)-maxErrorTail:]
			if i := strings.IndexByte(tail, '\n'); i >= 0 && i < len(tail)-1 {
				tail = tail[i+1:] // start at a whole line
			}
			tail = "…" + tail
		}
		b.WriteString(": ")
		b.WriteString(tail)
	}
	return b.String()
}

// panicLine finds the line that states a panic's value in a child's stderr:
// the worker's marker line, or the runtime's "panic: " line for a panic in
// another goroutine. It returns "" when there is none.
func panicLine(stderr string) string {
	for _, prefix := range []string{panicMarker, "panic: "} {
		i := strings.LastIndex(stderr, prefix)
		if i < 0 || (prefix == "panic: " && i > 0 && stderr[i-1] != '\n') {
			continue
		}
		line := stderr[i+len(prefix):]
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		if len(line) > maxErrorTail {
			line = line[:maxErrorTail] + "…"
		}
		return line
	}
	return ""
}

// Is makes errors.Is(err, ErrPanicked) hold for a panicked worker,
// errors.Is(err, ErrNotRegistered) for a child that does not know the
// worker, and errors.Is(err, ErrNoMain) for a child whose main does not call
// Main.
func (e *ExitError) Is(target error) bool {
	switch target {
	case ErrPanicked:
		return e.Panicked
	case ErrNoMain:
		return e.noMain
	case ErrNotRegistered:
		return e.Code == 1 && strings.HasPrefix(e.Stderr, ErrNotRegistered.Error()+": ")
	}
	return false
}

// Unwrap returns the context's error when the child was killed because the
// context given to Start ended.
func (e *ExitError) Unwrap() error { return e.ctxErr }
