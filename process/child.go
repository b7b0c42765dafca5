package process

// The child side: what a worker process runs (Main, and the worker it
// names), and what it learns of itself (Current, File).

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// Info describes the current process.
type Info struct {
	Name   string // "MainProcess" in a program started by hand
	Pid    int
	Worker string // registered worker name; "" in the main process
}

var current = Info{Name: "MainProcess", Pid: os.Getpid()}

// Current returns the current process's name, PID and worker (Python's
// current_process()).
func Current() Info { return current }

// IsWorker reports whether this process was started by Start.
func IsWorker() bool { return current.Worker != "" }

var passed []*os.File // files passed WithFiles, in order; set by Main in a child

// parseFiles turns the SHMKIT_FILES value "FIRST,COUNT" into passed.
func parseFiles(v string) {
	first, count, ok := strings.Cut(v, ",")
	if !ok {
		return
	}
	f, err1 := strconv.Atoi(first)
	n, err2 := strconv.Atoi(count)
	if err1 != nil || err2 != nil || f <= argsFD || n < 0 || n > 1<<10 {
		return
	}
	for i := 0; i < n; i++ {
		syscall.CloseOnExec(f + i) // as every descriptor Go opens: a program the worker executes gets it only by ExtraFiles
		passed = append(passed, os.NewFile(uintptr(f+i), "shmkit-file-"+strconv.Itoa(i)))
	}
}

// shared is the number of anonymous segments' descriptors the parent
// passed after argsFD for the handles in the arguments; set by Main in a
// child.
var shared int

// parseShared turns the SHMKIT_SHARED value "COUNT" into shared.
func parseShared(v string) {
	if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 1<<16 {
		shared = n
	}
}

// closeShared closes the descriptors of the anonymous segments once the
// arguments are decoded: every handle decoded from them holds a
// duplicate of its own (shm.Attach), so that a segment whose handles this
// worker has all closed is neither mapped nor held open here, and its
// memory goes when the other processes let it go. Left open, they would
// also leak into the worker's own children.
func closeShared() {
	for i := range shared {
		syscall.Close(argsFD + 1 + i)
	}
	shared = 0
}

// File returns the i-th file the parent passed to this worker WithFiles, or
// nil when there is none.
func File(i int) *os.File {
	if i < 0 || i >= len(passed) {
		return nil
	}
	return passed[i]
}

const (
	panicExitCode  = 2
	panicMarker    = "shmkit: worker panicked: "
	noMainExitCode = 3 // with noMainMarker on stderr: see refuseWithoutMain
	noMainMarker   = "but its main did not call process.Main"
)

// Main runs the registered worker and exits when this process was started
// by Start; otherwise it returns at once. Call it first thing in main and in
// TestMain, after every Register has run (package initialisation does that).
//
// A program started as a worker whose main does not call Main never runs
// the worker: Wait in the parent returns an error matching ErrNoMain. If
// such a main calls Start, that Start prints a message naming Main and ends
// the process instead of starting another copy of the program.
func Main() {
	worker := os.Getenv(envWorker)
	if worker == "" {
		return
	}
	os.Exit(runWorker(worker))
}

func runWorker(worker string) int {
	current = Info{Name: os.Getenv(envName), Pid: os.Getpid(), Worker: worker}
	watch := os.Getenv(envWatch) == "1"
	parseFiles(os.Getenv(envFiles))
	parseShared(os.Getenv(envShared))
	parent, hasParent = parseParent(os.Getenv(envParent))
	for _, k := range []string{envWorker, envName, envWatch, envFiles, envParent, envShared} {
		os.Unsetenv(k) // grandchildren started with os/exec are not workers
	}
	registryMu.Lock()
	f := registry[worker]
	registryMu.Unlock()
	if f == nil {
		fmt.Fprintf(os.Stderr, "%v: %q\n", ErrNotRegistered, worker)
		return 1
	}
	syscall.CloseOnExec(argsFD) // a program the worker executes must not hold it
	pipe := os.NewFile(argsFD, "shmkit-args")
	var n [8]byte
	if _, err := io.ReadFull(pipe, n[:]); err != nil {
		fmt.Fprintf(os.Stderr, "shmkit: worker %s: reading arguments: %v\n", worker, err)
		return 1
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > 1<<30 {
		fmt.Fprintf(os.Stderr, "shmkit: worker %s: arguments of %d bytes\n", worker, size)
		return 1
	}
	args := make([]byte, size)
	if _, err := io.ReadFull(pipe, args); err != nil {
		fmt.Fprintf(os.Stderr, "shmkit: worker %s: reading arguments: %v\n", worker, err)
		return 1
	}
	if !watch {
		// Detached: its standard error (and output, unless a file) is a
		// pipe the parent reads; once the parent has died, a write there
		// would end the worker with SIGPIPE. Notified instead, it fails
		// with EPIPE and the worker runs on.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	}
	if watch {
		go func() {
			io.Copy(io.Discard, pipe) // returns at the parent's death
			os.Exit(1)
		}()
	}
	pipe.Write([]byte{ackByte}) // the parent's reap reads it; a dead parent makes it fail, harmlessly
	return call(worker, f, bytes.NewReader(args))
}

// refuseWithoutMain ends a process that Start started as a worker and whose
// main calls Start without having called Main (which unsets envWorker before
// it runs the worker): starting a child there would run main again, which
// would start another, without end. The parent's Wait maps the exit status
// and message to ErrNoMain.
func refuseWithoutMain() {
	worker := os.Getenv(envWorker)
	if worker == "" {
		return
	}
	fmt.Fprintf(os.Stderr, "process: this program was started as worker %q %s: "+
		"call process.Main() first thing in main (and in TestMain)\n", worker, noMainMarker)
	os.Exit(noMainExitCode)
}

// call runs the worker, turning a panic into exit status 2 with a marker
// that the parent's ExitError recognises.
func call(worker string, f runner, args io.Reader) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(os.Stderr, "%s%v\n\n%s", panicMarker, v, debug.Stack())
			code = panicExitCode
		}
	}()
	if err := f.run(context.Background(), args); err != nil {
		fmt.Fprintf(os.Stderr, "shmkit: worker %s: %v\n", worker, err)
		return 1
	}
	return 0
}
