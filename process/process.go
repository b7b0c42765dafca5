package process

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shmkit/shmkit/internal/fdexport"
	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// Environment variables that mark a child. They are an implementation detail
// between Start and Main of one binary.
const (
	envWorker = "SHMKIT_WORKER"
	envName   = "SHMKIT_PROCESS_NAME"
	envWatch  = "SHMKIT_WATCH_PARENT"
	envFiles  = "SHMKIT_FILES"  // "FIRST,COUNT": descriptors passed WithFiles
	envParent = "SHMKIT_PARENT" // "PID,WORKER,NAME" of the parent (WORKER quoted): see Parent
	envShared = "SHMKIT_SHARED" // "COUNT": anonymous segments' descriptors after argsFD, closed once the arguments are decoded
	argsFD    = 3               // the socket carrying the encoded arguments and the ack; then exported files
)

// ackByte is what a child writes back on argsFD once Main has read its
// arguments and is about to call the worker: a child that exits without
// it never ran the worker (its main does not call Main).
const ackByte = 'M'

// runner is the type-erased form of a registered function.
type runner interface {
	run(ctx context.Context, args io.Reader) error
}

var (
	registryMu sync.Mutex
	registry   = map[string]runner{}
)

// Func is a registered worker function taking arguments of type A.
type Func[A any] struct {
	name string
	fn   func(ctx context.Context, args A) error
}

// Register makes fn startable as a worker process called name. Call it at
// package initialisation (a package-level var), so that the parent and the
// re-executed child both register it before Main runs. Registering one name
// twice panics.
//
// A is encoded with encoding/gob: its exported fields travel, and shared
// objects inside it travel as handles and arrive attached.
func Register[A any](name string, fn func(ctx context.Context, args A) error) *Func[A] {
	if name == "" || fn == nil {
		panic("process: Register needs a name and a function")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("process: worker " + strconv.Quote(name) + " registered twice")
	}
	f := &Func[A]{name: name, fn: fn}
	registry[name] = f
	return f
}

// Name returns the name the function was registered under.
func (f *Func[A]) Name() string { return f.name }

// envelope carries a worker's arguments as a struct field: gob cannot
// encode some values at top level (a nil pointer or slice; a pointer to a
// GobEncoder such as *shm.Segment), and handles all of them as fields.
type envelope[A any] struct{ A A }

func (f *Func[A]) run(ctx context.Context, r io.Reader) error {
	var env envelope[A]
	err := gob.NewDecoder(r).Decode(&env)
	closeShared()
	if err != nil {
		return fmt.Errorf("process: decoding arguments of %s: %w", f.name, err)
	}
	return f.fn(ctx, env.A)
}

// Run starts the worker and waits for it: Start followed by Wait.
func (f *Func[A]) Run(ctx context.Context, args A, opts ...Option) error {
	p, err := f.Start(ctx, args, opts...)
	if err != nil {
		return err
	}
	return p.Wait()
}

// Option configures Start.
type Option struct{ apply func(*startOptions) }

type startOptions struct {
	name     string
	stdout   io.Writer
	stderr   io.Writer
	detached bool
	env      []string
	files    []*os.File
}

// WithName names the process (Python's name=); the default is "Process-N".
func WithName(name string) Option { return Option{func(o *startOptions) { o.name = name }} }

// WithStdout sends the child's standard output to w (default: this
// process's standard output).
func WithStdout(w io.Writer) Option { return Option{func(o *startOptions) { o.stdout = w }} }

// WithStderr sends the child's standard error to w (default: this process's
// standard error). Its tail is kept for the ExitError either way.
func WithStderr(w io.Writer) Option { return Option{func(o *startOptions) { o.stderr = w }} }

// WithEnv adds KEY=VALUE entries to the child's environment.
func WithEnv(kv ...string) Option {
	return Option{func(o *startOptions) { o.env = append(o.env, kv...) }}
}

// WithFiles passes open files to the child, which finds them with File(0),
// File(1), … in the order given. The parent keeps its own descriptors (close
// them once Start has returned if the child alone needs them). Use it for
// what cannot travel by name: one end of a pipe or socket pair, say.
func WithFiles(files ...*os.File) Option {
	return Option{func(o *startOptions) { o.files = append(o.files, files...) }}
}

// Detached lets the child outlive this process: it is not killed when the
// parent dies. Start then returns once the child's arguments are written
// (or the child has exited), so that the parent may exit at once.
// Cancelling Start's context still kills it. Once the parent
// has died, what the child writes to a stream the parent was copying (its
// standard error, and its output unless that is a file) is lost: the write
// fails with EPIPE.
func Detached() Option { return Option{func(o *startOptions) { o.detached = true }} }

var counter atomic.Int64

// Process is a started worker process. Its methods are safe for concurrent use.
type Process struct {
	name string
	cmd  *exec.Cmd
	ctx  context.Context
	tail *tailBuffer

	word uint64        // the child's procinfo word, read before it can be reaped
	done chan struct{} // closed when the child has been reaped
	err  error         // Wait's result; written before done is closed
	code atomic.Int64  // exit code once done; see ExitCode
}

// Start runs f in a new process with args. The child starts from the top of
// this program's main (or TestMain), whose first call, Main, runs f.
// Cancelling ctx kills the child.
func (f *Func[A]) Start(ctx context.Context, args A, opts ...Option) (*Process, error) {
	refuseWithoutMain()
	o := startOptions{stdout: os.Stdout, stderr: os.Stderr}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.name == "" {
		o.name = "Process-" + strconv.FormatInt(counter.Add(1), 10)
	}
	var files []*os.File
	var enc bytes.Buffer
	// The shared objects among the arguments reserve a peer slot each for
	// the child while they encode (package handoff), so that from the
	// moment Start returns, waiters in every process count the child as a
	// peer, before it has decoded anything.
	peers, err := handoff.Collect(func() error {
		exported := map[*os.File]int{} // many objects of one segment (a heap's) pass one descriptor
		return fdexport.Run(func(file *os.File) int {
			if fd, ok := exported[file]; ok {
				return fd
			}
			files = append(files, file)
			exported[file] = argsFD + len(files)
			return argsFD + len(files)
		}, func() error { return gob.NewEncoder(&enc).Encode(envelope[A]{A: args}) })
	})
	if err != nil {
		return nil, fmt.Errorf("process: encoding arguments of %s: %w", f.name, err)
	}
	p, err := start(ctx, f.name, enc.Bytes(), files, &o, peers.Commit)
	if err != nil {
		peers.Abort()
		return nil, err
	}
	return p, nil
}

// childWord is the procinfo word of the child with this PID.
func childWord(pid int) uint64 {
	st, err := procinfo.StartTime(pid)
	if err != nil {
		// No /proc: a PID-only word, which reads as dead once the child
		// has gone unless the PID is reused meanwhile (then a waiter
		// waits on).
		st = 0
	}
	return procinfo.Ident{Pid: int32(pid), Start: st}.Word()
}

// start starts the child and sends it args. commit, when not nil, runs
// with the child's procinfo word once the child runs and before args go:
// the reservations made for it (package handoff) must name it before it
// can decode them and attach, or a handle of it that attaches finds no
// slot reserved for it, takes another, and the reserved one, committed
// later, counts the child as a peer for as long as it lives, whatever it
// closes (TestReservationCommittedBeforeChildDecodes). On an error it
// has not run.
func start(ctx context.Context, worker string, args []byte, files []*os.File, o *startOptions, commit func(child uint64)) (*Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("process: finding this program: %w", err)
	}
	r, w, err := argsSocket()
	if err != nil {
		return nil, err
	}
	p := &Process{name: o.name, ctx: ctx, tail: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	p.code.Store(-1 << 32)
	// Exec through /proc/self/exe: it names this very program even when the
	// file was replaced or removed since it started; argv[0] stays readable.
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{exe}
	cmd.Env = append(os.Environ(), envWorker+"="+worker, envName+"="+o.name, envParent+"="+parentValue())
	if !o.detached {
		cmd.Env = append(cmd.Env, envWatch+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if len(files) > 0 {
		cmd.Env = append(cmd.Env, envShared+"="+strconv.Itoa(len(files)))
	}
	if len(o.files) > 0 {
		first := argsFD + 1 + len(files)
		cmd.Env = append(cmd.Env, envFiles+"="+strconv.Itoa(first)+","+strconv.Itoa(len(o.files)))
	}
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdin = nil
	cmd.Stdout = o.stdout
	cmd.Stderr = io.MultiWriter(o.stderr, p.tail)
	cmd.ExtraFiles = append(append([]*os.File{r}, files...), o.files...)
	cmd.WaitDelay = time.Second // a grandchild holding our stderr must not hang Wait
	p.cmd = cmd
	if err := startOnForkThread(cmd); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("process: starting %s: %w", o.name, err)
	}
	r.Close()
	// Its start time now, while it cannot have been reaped (reap starts
	// below): a PID-only word would take a later process of that PID for it.
	p.word = childWord(cmd.Process.Pid)
	if commit != nil {
		commit(p.word)
	}
	// The arguments go length-prefixed; the socket then stays open, and the
	// child takes its end of file as the parent's death. The child's ack
	// comes back on it; reap reads it.
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(args)))
	written := make(chan struct{})
	go func() {
		defer close(written)
		w.Write(n[:])
		w.Write(args)
	}()
	children.add(p)
	go p.reap(w)
	if o.detached {
		// A Detached child may outlive this process, which may exit as
		// soon as Start returns (what detaching is for): its arguments
		// must be in the socket by then, where the child reads them
		// after this end is gone. Written by the goroutine alone, they
		// went with a parent that exited first, and the child read EOF
		// (TestDetachedChildGetsItsArgumentsWhenTheParentExitsAtOnce).
		// A child that dies first (or that ctx kills) ends the wait.
		select {
		case <-written:
		case <-p.done:
		}
	}
	if startedHook != nil {
		startedHook(p)
	}
	return p, nil
}

// forkThread is the goroutine, locked to an OS thread that never ends,
// that starts every child. Linux sends a child its parent-death signal
// (Pdeathsig) when the thread that forked it exits, not the process: a
// child forked on a thread that the runtime ends later (a goroutine that
// locked it returned) would be killed while its parent lives on.
var forkThread struct {
	once sync.Once
	reqs chan func()
}

// startOnForkThread runs cmd.Start on forkThread's thread.
func startOnForkThread(cmd *exec.Cmd) error {
	forkThread.once.Do(func() {
		forkThread.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range forkThread.reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	forkThread.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// startedHook, nil but in tests, runs as start returns: a test holds the
// parent there while the child goes on.
var startedHook func(p *Process)

// reap waits for the child, records its exit, and closes the watch pipe.
func (p *Process) reap(w *os.File) {
	werr := p.cmd.Wait()
	ran := acked(w) // the child has exited: an ack it sent is queued on w
	w.Close()
	code := -int(syscall.SIGKILL) // no wait status at all (someone else reaped it): report it lost
	if st := p.cmd.ProcessState; st != nil {
		// The exit status says all: an I/O copy error alone is no failure.
		code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = -int(ws.Signal())
		}
	} else if werr != nil {
		p.tail.Write([]byte("\nshmkit: " + werr.Error()))
	}
	p.code.Store(int64(code))
	// A child that exited 0 succeeded, even when copying its output failed
	// (a grandchild kept the stderr pipe open past WaitDelay, say).
	// A child that exited 0 without acking never ran the worker: its main
	// does not call Main (or returned before it).
	if code != 0 || !ran {
		e := &ExitError{Name: p.name, Pid: p.cmd.Process.Pid, Code: code, Stderr: p.tail.String()}
		e.Panicked = code == panicExitCode && panicLine(e.Stderr) != ""
		e.noMain = !ran && (code == 0 || code == noMainExitCode && strings.Contains(e.Stderr, noMainMarker))
		if cerr := p.ctx.Err(); cerr != nil && code < 0 {
			e.ctxErr = cerr
		}
		p.err = e
	}
	children.remove(p)
	close(p.done)
}

// Pid returns the child's process ID (0 for a Process that never started).
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Name returns the process's name.
func (p *Process) Name() string { return p.name }

// Wait blocks until the child has exited. It returns nil for exit status 0
// and an *ExitError otherwise. It may be called any number of times.
func (p *Process) Wait() error {
	if p.done == nil {
		return ErrNotStarted
	}
	<-p.done
	return p.err
}

// Done returns a channel closed when the child has exited (nil for a Process
// that never started).
func (p *Process) Done() <-chan struct{} { return p.done }

// WhileRuns returns a copy of ctx that ends when p exits (context.Cause
// then says so: an error matching ErrExited, and p's *ExitError if it did
// not exit 0), when ctx ends, or when
// cancel is called: a wait for something p is to do (an Event it sets, a
// message it puts, a barrier it reaches) must not outlast p, which may be
// killed before it does it. Call cancel once the wait is over. A Process
// that never started ends the copy at once.
func WhileRuns(ctx context.Context, p *Process) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	if p.done == nil {
		cancel(ErrNotStarted)
		return wctx, func() {}
	}
	go func() {
		select {
		case <-p.done:
			if p.err != nil { // an *ExitError, which names p
				cancel(fmt.Errorf("%w: %w", ErrExited, p.err))
			} else {
				cancel(fmt.Errorf("%w: %s (pid %d), status 0", ErrExited, p.name, p.Pid()))
			}
		case <-wctx.Done():
		}
	}()
	return wctx, func() { cancel(context.Canceled) }
}

// ExitCode returns the child's exit status: -1 while it runs, -N when it
// was killed by signal N (as Python's exitcode).
func (p *Process) ExitCode() int {
	if p.done == nil {
		return -1
	}
	select {
	case <-p.done:
		return int(p.code.Load())
	default:
		return -1
	}
}

// Alive reports whether the child is still running.
func (p *Process) Alive() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Terminate sends SIGTERM (Python's terminate). It does nothing once the
// child has exited.
func (p *Process) Terminate() error { return p.signal(syscall.SIGTERM) }

// Kill sends SIGKILL. It does nothing once the child has exited.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Signal sends sig to the child.
func (p *Process) Signal(sig os.Signal) error { return p.signal(sig) }

func (p *Process) signal(sig os.Signal) error {
	if p.done == nil {
		return ErrNotStarted
	}
	if !p.Alive() {
		return nil
	}
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// argsSocket returns the two ends of the socket that carries a child's
// arguments to it and its ack back: r for the child (blocking, as a
// child's inherited descriptor is), w for the parent (non-blocking, so that
// Close ends a blocked write and acked can poll it).
func argsSocket() (r, w *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, os.NewSyscallError("setnonblock", err)
	}
	return os.NewFile(uintptr(fds[0]), "shmkit-args-child"), os.NewFile(uintptr(fds[1]), "shmkit-args"), nil
}

// acked reports whether the child wrote its ack on w. Call it once the
// child has exited: what it wrote is then queued, and the read does not wait.
func acked(w *os.File) bool {
	rc, err := w.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	n := 0
	rc.Read(func(fd uintptr) bool {
		n, _ = syscall.Read(int(fd), b[:])
		return true // one try: EAGAIN means no ack
	})
	return n == 1 && b[0] == ackByte
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

func (t *tailBuffer) String() string { return string(t.bytes()) }
