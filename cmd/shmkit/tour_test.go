package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stuckTour replaces the examples in the tours TestTourSignal starts (in
// a copy of the test binary, and in the copies that tour starts for its
// example): one example that runs until it is stopped.
var stuckTour = map[string]func(){
	"zz-stuck": func() {
		fmt.Printf("example %d running\n", os.Getpid())
		time.Sleep(time.Hour) // runs long: the tour is stopped meanwhile
	},
}

const envStuckTour = "SHMKIT_TEST_STUCK_TOUR"

func init() {
	if os.Getenv(envStuckTour) == "1" {
		examples = stuckTour
	}
}

// TestTourSignal stops a tour in the middle of an example, as Ctrl-C,
// kill and kill -9 do: the example's process must go with the tour, not
// run on, orphaned, printing into the terminal; stopped by a signal it can
// catch, the tour says it was interrupted and exits non-zero.
func TestTourSignal(t *testing.T) {
	if os.Getenv(envStuckTour) == "1" {
		os.Exit(run([]string{"tour"}, os.Stdout, os.Stderr))
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { tourSignal(t, sig) })
	}
}

func tourSignal(t *testing.T, sig syscall.Signal) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stderr strings.Builder
	cmd := exec.Command(os.Args[0], "-test.run=^TestTourSignal$", "-test.count=1")
	cmd.Env = append(os.Environ(), envStuckTour+"=1")
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := bufio.NewReader(r)
	var seen strings.Builder
	pid := 0
	for pid == 0 {
		line, err := out.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the tour ended before its example ran: %v\n%s%s", err, seen.String(), stderr.String())
		}
		fmt.Sscanf(line, "example %d running", &pid)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(pidfd)

	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	// The pidfd becomes readable when the example's process exits.
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll(fds, int(max(time.Until(deadline).Milliseconds(), 0)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("the example (pid %d) still runs 10s after its tour got %v (tour: %v)", pid, sig, werr)
		}
		break
	}
	if sig == syscall.SIGKILL {
		return
	}
	rest, _ := io.ReadAll(out) // the example has gone: nothing holds the pipe
	seen.Write(rest)
	if werr == nil || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("tour stopped by %v: %v, stderr %q, want a non-zero exit saying it was interrupted\n%s", sig, werr, stderr.String(), seen.String())
	}
}
