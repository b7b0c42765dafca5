package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

var (
	failer = process.Register("process-test-failer", func(ctx context.Context, code int) error {
		fmt.Fprintln(os.Stderr, "about to fail on purpose")
		if code == 1 {
			return errors.New("the worker's own error")
		}
		os.Exit(code)
		return nil
	})
	chatty = process.Register("process-test-chatty", func(ctx context.Context, n int) error {
		for i := 0; i < n; i++ {
			fmt.Fprintf(os.Stderr, "noise line %d %s\n", i, strings.Repeat("x", 60))
		}
		fmt.Fprintln(os.Stderr, "the last line")
		os.Exit(5)
		return nil
	})
	goPanicker = process.Register("process-test-go-panic", func(ctx context.Context, _ int) error {
		go panic("boom in a goroutine") // the runtime ends the process
		select {}
	})
	// sleeper signals readiness in word 0 of its segment, then blocks forever.
	sleeper = process.Register("process-test-sleeper", func(ctx context.Context, s *shm.Segment) error {
		ready := atomics.MustUint32At(s.Bytes(), 0)
		ready.Store(uint32(os.Getpid())) // publishes: the child runs
		atomics.Wake(ready, -1)
		select {}
	})
	// middle starts a sleeper of its own (not detached), publishes the
	// grandchild's pid in word 0, and blocks.
	middle = process.Register("process-test-middle", func(ctx context.Context, s *shm.Segment) error {
		p, err := sleeper.Start(ctx, s)
		if err != nil {
			return err
		}
		return p.Wait()
	})
	reporter = process.Register("process-test-current", func(ctx context.Context, _ int) error {
		c := process.Current()
		fmt.Printf("%s %d %s %v\n", c.Name, c.Pid, c.Worker, process.IsWorker())
		return nil
	})
	fileWriter = process.Register("process-test-file-writer", func(ctx context.Context, msg string) error {
		f := process.File(0)
		if f == nil || process.File(1) != nil || process.File(-1) != nil {
			return errors.New("File(0) should be the one file passed")
		}
		_, err := io.WriteString(f, msg)
		return err
	})
)

func quiet() process.Option { return process.WithStderr(io.Discard) }

func TestPanic(t *testing.T) {
	p, err := panicker.Start(context.Background(), 1, quiet())
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	var ee *process.ExitError
	if !errors.Is(err, process.ErrPanicked) || !errors.As(err, &ee) {
		t.Fatalf("Wait = %v, want an *ExitError matching ErrPanicked", err)
	}
	if p.ExitCode() != 2 || ee.Code != 2 || ee.Pid != p.Pid() {
		t.Fatalf("exit code %d (error: code %d pid %d), want 2 and pid %d", p.ExitCode(), ee.Code, ee.Pid, p.Pid())
	}
	msg := err.Error()
	if !strings.Contains(msg, "panicked: boom") || strings.Contains(msg, "goroutine") || strings.Count(msg, "\n") > 0 {
		t.Fatalf("panic error should be one readable line with the panic value: %q", msg)
	}
	if !strings.Contains(ee.Stderr, "goroutine") {
		t.Fatalf("the full stack should stay in Stderr: %q", ee.Stderr)
	}

	err = goPanicker.Run(context.Background(), 0, quiet())
	if !errors.Is(err, process.ErrPanicked) || !strings.Contains(err.Error(), "boom in a goroutine") {
		t.Fatalf("panic in a worker's goroutine: %v, want ErrPanicked naming the value", err)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code int
		says []string
	}{
		{1, []string{"exit status 1", "the worker's own error"}},
		{3, []string{"exit status 3", "about to fail on purpose"}},
	} {
		p, err := failer.Start(context.Background(), tc.code, quiet())
		if err != nil {
			t.Fatal(err)
		}
		err = p.Wait()
		var ee *process.ExitError
		if !errors.As(err, &ee) || ee.Code != tc.code || p.ExitCode() != tc.code {
			t.Fatalf("worker exiting %d: Wait = %v, ExitCode %d", tc.code, err, p.ExitCode())
		}
		if errors.Is(err, process.ErrPanicked) {
			t.Fatalf("a plain exit matches ErrPanicked: %v", err)
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q lacks %q", err, s)
			}
		}
		if err2 := p.Wait(); err2 != err {
			t.Errorf("second Wait = %v, first %v", err2, err)
		}
	}
	// A long stderr is cut in the message, kept whole (to a few KiB) in Stderr.
	err := chatty.Run(context.Background(), 500, quiet())
	var ee *process.ExitError
	if !errors.As(err, &ee) || ee.Code != 5 {
		t.Fatalf("chatty: %v", err)
	}
	if msg := err.Error(); len(msg) > 1024 || !strings.HasSuffix(msg, "the last line") {
		t.Fatalf("error message of %d bytes, want at most 1 KiB ending with the last line: %q", len(msg), msg)
	}
	if len(ee.Stderr) < 4096 {
		t.Fatalf("Stderr keeps %d bytes, want the tail of a few KiB", len(ee.Stderr))
	}
	if err := failer.Run(context.Background(), 0, quiet()); err != nil {
		t.Fatalf("a worker exiting 0: %v", err)
	}
}

// startSleeper starts a sleeper (through start) and waits until it runs;
// it returns the pid the sleeper published.
func waitReady(t *testing.T, s *shm.Segment, p *process.Process) int {
	t.Helper()
	ready := atomics.MustUint32At(s.Bytes(), 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ready.Load() == 0 { // observes: the (grand)child runs
		if err := atomics.Await(ctx, ready, 0, &atomics.WaitOptions{Poll: 50 * time.Millisecond, Check: func() error {
			if !p.Alive() {
				return fmt.Errorf("child exited: %v", p.Wait())
			}
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	return int(ready.Load())
}

func TestContextCancelKillsChild(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		contextCancelKillsChild(t)
	}
}

func contextCancelKillsChild(t *testing.T) {
	s, err := shm.CreateAnon(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := sleeper.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if pid := waitReady(t, s, p); pid != p.Pid() {
		t.Fatalf("child published pid %d, Pid() says %d", pid, p.Pid())
	}
	if !p.Alive() || p.ExitCode() != -1 {
		t.Fatalf("running child: Alive %v, ExitCode %d", p.Alive(), p.ExitCode())
	}
	cancel()
	err = p.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want an error matching context.Canceled", err)
	}
	if p.ExitCode() != -int(syscall.SIGKILL) || p.Alive() {
		t.Fatalf("ExitCode %d, want %d (killed)", p.ExitCode(), -int(syscall.SIGKILL))
	}
	if p.Kill() != nil || p.Terminate() != nil {
		t.Fatal("signalling an exited child should do nothing")
	}
}

func TestTerminateAndKill(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		terminateAndKill(t)
	}
}

func terminateAndKill(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		s, err := shm.CreateAnon(64)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sleeper.Start(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, s, p)
		if sig == syscall.SIGTERM {
			err = p.Terminate()
		} else {
			err = p.Kill()
		}
		if err != nil {
			t.Fatal(err)
		}
		err = p.Wait()
		if p.ExitCode() != -int(sig) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("killed by signal %d", sig)) {
			t.Fatalf("%v: ExitCode %d, Wait %v", sig, p.ExitCode(), err)
		}
		s.Close()
	}
}

// TestChildDiesWithParent: a worker starts a worker of its own; when the
// middle process is SIGKILLed, the grandchild must die too.
func TestChildDiesWithParent(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		childDiesWithParent(t)
	}
}

func childDiesWithParent(t *testing.T) {
	s, err := shm.CreateAnon(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := middle.Start(context.Background(), s, quiet())
	if err != nil {
		t.Fatal(err)
	}
	grandchild := waitReady(t, s, p)
	if grandchild == p.Pid() {
		t.Fatal("the pid published is the middle process's")
	}
	pidfd, err := unix.PidfdOpen(grandchild, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", grandchild, err)
	}
	defer unix.Close(pidfd)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	// The pidfd becomes readable when the grandchild exits.
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			unix.Kill(grandchild, unix.SIGKILL)
			t.Fatalf("grandchild %d still runs 30s after its parent was killed", grandchild)
		}
		return
	}
}

func TestCurrent(t *testing.T) {
	if c := process.Current(); c.Name != "MainProcess" || c.Pid != os.Getpid() || c.Worker != "" || process.IsWorker() {
		t.Fatalf("Current() in the main process = %+v", c)
	}
	var out bytes.Buffer
	p, err := reporter.Start(context.Background(), 0, process.WithName("reporter-7"), process.WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("reporter-7 %d process-test-current true\n", p.Pid())
	if out.String() != want || p.Name() != "reporter-7" {
		t.Fatalf("child reported %q, want %q", out.String(), want)
	}
	q, err := reporter.Start(context.Background(), 0, process.WithStdout(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	q.Wait()
	if !strings.HasPrefix(q.Name(), "Process-") {
		t.Fatalf("default name %q, want Process-N", q.Name())
	}
}

func TestWithFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := fileWriter.Run(context.Background(), "through a passed pipe", process.WithFiles(w)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "through a passed pipe" {
		t.Fatalf("read %q, %v", got, err)
	}
}

var argEcho = process.Register("process-test-arg-echo", func(ctx context.Context, a []int) error {
	fmt.Printf("%v %v\n", a == nil, a)
	return nil
})

var nilSeg = process.Register("process-test-nil-seg", func(ctx context.Context, s *shm.Segment) error {
	fmt.Println(s == nil)
	return nil
})

// TestArguments: arguments that gob cannot encode at top level arrive too.
func TestArguments(t *testing.T) {
	for _, tc := range []struct {
		args []int
		want string
	}{{nil, "true []\n"}, {[]int{}, "true []\n"}, {[]int{1, 2}, "false [1 2]\n"}} {
		var out bytes.Buffer
		if err := argEcho.Run(context.Background(), tc.args, process.WithStdout(&out)); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("args %#v arrived as %q, want %q", tc.args, out.String(), tc.want)
		}
	}
	var out bytes.Buffer
	if err := nilSeg.Run(context.Background(), nil, process.WithStdout(&out)); err != nil || out.String() != "true\n" {
		t.Fatalf("a nil *shm.Segment: %v, %q", err, out.String())
	}
}

// untilEOF reads the file passed to it to its end, then returns.
var untilEOF = process.Register("process-test-until-eof", func(ctx context.Context, _ int) error {
	_, err := io.Copy(io.Discard, process.File(0))
	return err
})

// TestChildOutlivesStartingThread: Linux sends a child's parent-death
// signal when the thread that forked it exits, not the process. A
// goroutine that locks its OS thread and returns ends that thread; a child
// it started must run on while this process lives.
func TestChildOutlivesStartingThread(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	type started struct {
		p     *process.Process
		err   error
		pidfd int // of the thread that started p
	}
	var s started
	for s.p == nil {
		ch := make(chan started)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			if unix.Gettid() == os.Getpid() {
				runtime.UnlockOSThread() // the main thread does not end: try another
				ch <- started{pidfd: -1}
				return
			}
			pidfd, err := unix.PidfdOpen(unix.Gettid(), unix.PIDFD_THREAD)
			if err != nil {
				ch <- started{err: fmt.Errorf("pidfd_open(PIDFD_THREAD): %w", err), pidfd: -1}
				return
			}
			p, err := untilEOF.Start(context.Background(), 0, process.WithFiles(r), quiet())
			ch <- started{p, err, pidfd}
		}()
		s = <-ch
		if s.err != nil {
			if s.pidfd < 0 {
				t.Skip(s.err)
			}
			t.Fatal(s.err)
		}
	}
	r.Close()
	defer unix.Close(s.pidfd)
	// The pidfd of a thread becomes readable once the thread has exited
	// (and any parent-death signal has gone out).
	fds := []unix.PollFd{{Fd: int32(s.pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(shmtest.Timeout(t, time.Minute).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			s.p.Kill()
			t.Fatalf("the starting thread did not end: poll %d, %v", n, err)
		}
		break
	}
	w.Close() // the child's end of file: it returns
	if err := s.p.Wait(); err != nil {
		t.Fatalf("child started on a thread that then ended: %v", err)
	}
}

// inheritNothing fails unless every descriptor Start gave it (from 3, the
// first after standard error, to the last file passed) is close-on-exec:
// one that is not passes to every program the worker executes, and keeps a
// pipe it was given open for as long as they run.
var inheritNothing = process.Register("process-test-inherit-nothing", func(ctx context.Context, s *shm.Segment) error {
	f := process.File(0)
	if f == nil {
		return errors.New("no file passed")
	}
	for fd := 3; fd <= int(f.Fd()); fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == unix.EBADF {
			continue // closed since (a segment's, once the arguments were decoded)
		}
		if err != nil {
			return err
		}
		if flags&unix.FD_CLOEXEC == 0 {
			target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			return fmt.Errorf("descriptor %d (%s) is not close-on-exec", fd, target)
		}
	}
	return nil
})

// TestWorkerDescriptorsCloseOnExec: what a worker inherits from Start (the
// argument socket, files passed WithFiles, segments' descriptors) does not
// leak into the programs it executes in turn.
func TestWorkerDescriptorsCloseOnExec(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s, err := shm.CreateAnon(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := inheritNothing.Run(context.Background(), s, process.WithFiles(w), quiet()); err != nil {
		t.Fatal(err)
	}
}

var (
	// orphan, started Detached by detacher, publishes its pid in word 0,
	// waits for detacher to die, then writes to its standard error (which
	// detacher read) and records in word 1 that it lived through that.
	orphan = process.Register("process-test-orphan", func(ctx context.Context, s *shm.Segment) error {
		parent, _ := process.Parent()
		pidfd, err := unix.PidfdOpen(parent.Pid, 0)
		if err != nil {
			return err
		}
		ready := atomics.MustUint32At(s.Bytes(), 0)
		ready.Store(uint32(os.Getpid())) // publishes: the child runs
		atomics.Wake(ready, -1)
		if err := awaitExit(pidfd, -1); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "outliving the parent")
		fmt.Fprintln(os.Stderr, "and saying so again")
		atomics.MustUint32At(s.Bytes(), 4).Store(1)
		return nil
	})
	// detacher starts an orphan Detached and blocks.
	detacher = process.Register("process-test-detacher", func(ctx context.Context, s *shm.Segment) error {
		if _, err := orphan.Start(ctx, s, process.Detached()); err != nil {
			return err
		}
		select {}
	})
)

// awaitExit waits until the process of pidfd has exited, for at most
// timeout (forever when negative).
func awaitExit(pidfd int, timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout.Milliseconds())
	}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("timed out")
		}
		return nil
	}
}

// TestDetachedOutlivesParent: a Detached child goes on running when its
// parent dies, and may still write to its standard error.
func TestDetachedOutlivesParent(t *testing.T) {
	s, err := shm.CreateAnon(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := detacher.Start(context.Background(), s, quiet())
	if err != nil {
		t.Fatal(err)
	}
	grandchild := waitReady(t, s, p)
	pidfd, err := unix.PidfdOpen(grandchild, 0)
	if err != nil {
		p.Kill()
		t.Fatalf("pidfd_open(%d): %v", grandchild, err)
	}
	defer unix.Close(pidfd)
	p.Kill()
	p.Wait()
	if err := awaitExit(pidfd, shmtest.Timeout(t, time.Minute)); err != nil {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		t.Fatalf("detached grandchild %d: %v", grandchild, err)
	}
	if atomics.MustUint32At(s.Bytes(), 4).Load() != 1 {
		t.Fatal("the detached child died when it wrote to its standard error after its parent died")
	}
}
