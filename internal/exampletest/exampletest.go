// Package exampletest runs an example program's main inside its test
// binary and checks what it prints. The example's workers are real child
// processes (the test binary re-executed; TestMain must call process.Main
// first), and their standard output, inherited from the parent, is
// captured with the parent's.
//
//	func TestMain(m *testing.M) {
//		process.Main()
//		os.Exit(m.Run())
//	}
//
//	func TestOutput(t *testing.T) {
//		exampletest.Check(t, main, "Result(in process p1): [1, 4, 9, 16]\n")
//	}
//
// RunWorkerDies runs the example with one of its workers killed as it
// starts; TestMain then calls Dispatch(main) before process.Main.
package exampletest

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

// Run calls main with os.Stdout redirected to a pipe and returns everything
// written to it, by main and by the processes it started. Tests that call
// Run must not run in parallel with other users of os.Stdout.
func Run(tb testing.TB, main func()) string {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		got <- string(b)
	}()
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	main()
	os.Stdout = stdout
	w.Close()
	return <-got
}

// Check runs main as Run does and fails tb unless the output is exactly
// want, or when main left a segment created by this process in /dev/shm.
func Check(tb testing.TB, main func(), want string) {
	tb.Helper()
	out := Run(tb, main)
	if out != want {
		tb.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	infos, err := shm.List()
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range infos {
		if in.CreatorPID == os.Getpid() {
			tb.Errorf("the example left segment %s behind", in.Name)
		}
	}
}

// Environment of the copies of the test binary that RunWorkerDies starts.
const (
	envRunMain = "SHMKIT_EXAMPLETEST_RUN_MAIN" // "1": run main, then exit
	envDie     = "SHMKIT_EXAMPLETEST_DIE"      // a worker of this registered or process name kills itself as it starts
	envStall   = "SHMKIT_EXAMPLETEST_STALL"    // a worker of this registered name says so and stalls as it starts
	envWorker  = "SHMKIT_WORKER"               // the registered name of a worker process (package process)
	envName    = "SHMKIT_PROCESS_NAME"         // its process name (WithName, or "Process-N")
)

// Dispatch, called in TestMain before process.Main, serves RunWorkerDies:
// in the copy of the test binary it starts, Dispatch runs main and exits;
// in a worker of the name it kills, Dispatch ends the process with
// SIGKILL, as if killed before it did anything; in a worker of the name
// RunInterrupted stalls, it prints stalledLine and sleeps until killed.
// Otherwise it returns.
func Dispatch(main func()) {
	if w := os.Getenv(envWorker); w != "" {
		if die := os.Getenv(envDie); w == die || os.Getenv(envName) == die {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		if w == os.Getenv(envStall) {
			os.Stdout.WriteString(stalledLine)
			time.Sleep(time.Hour) // until killed with the example
		}
		return
	}
	if os.Getenv(envRunMain) == "1" {
		os.Unsetenv(envRunMain)
		main()
		os.Exit(0)
	}
}

// RunWorkerDies runs the test binary again to run the example's main (the
// test's TestMain calls Dispatch), with every worker registered as worker,
// or the one process named worker ("Process-2"), killed as it starts. The example must exit non-zero, not wait for ever
// on what the dead worker never did, and leave no segment behind; it has
// timeout to do so.
func RunWorkerDies(tb testing.TB, worker string, timeout time.Duration) {
	tb.Helper()
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRunMain+"=1", envDie+"="+worker)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill() // its workers die with it
		<-done
		tb.Fatalf("the example still ran %v after its worker %s died:\n%s", timeout, worker, out.String())
	}
	if err == nil {
		tb.Errorf("the example exited 0 although its worker %s died:\n%s", worker, out.String())
	}
	infos, lerr := shm.List()
	if lerr != nil {
		tb.Fatal(lerr)
	}
	for _, in := range infos {
		if in.CreatorPID == cmd.Process.Pid {
			tb.Errorf("the example left segment %s behind", in.Name)
			shm.Unlink(in.Name)
		}
	}
}

// stalledLine is what a worker that RunInterrupted stalls prints.
const stalledLine = "exampletest: worker stalled\n"

// RunInterrupted runs the test binary again to run the example's main (the
// test's TestMain calls Dispatch), with every worker registered as worker
// stalled as it starts, and sends the example sig once one has stalled:
// Ctrl-C (SIGINT) or kill (SIGTERM) in the middle of a run. The example
// must exit within timeout and leave no segment behind.
func RunInterrupted(tb testing.TB, worker string, sig syscall.Signal, timeout time.Duration) {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRunMain+"=1", envStall+"="+worker)
	cmd.Stdout, cmd.Stderr = w, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	var out bytes.Buffer
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		out.WriteString(line)
		if line == stalledLine {
			break
		}
		if err != nil {
			cmd.Wait()
			tb.Fatalf("the example ended before its worker %s stalled: %v\n%s%s", worker, err, out.String(), stderr.String())
		}
	}
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		tb.Fatalf("the example still ran %v after %v:\n%s%s", timeout, sig, out.String(), stderr.String())
	}
	infos, lerr := shm.List()
	if lerr != nil {
		tb.Fatal(lerr)
	}
	for _, in := range infos {
		if in.CreatorPID == cmd.Process.Pid {
			tb.Errorf("the example, stopped by %v, left segment %s behind", sig, in.Name)
			shm.Unlink(in.Name)
		}
	}
}
