package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	exampletest.Dispatch(main)
	process.Main()
	os.Exit(m.Run())
}

// TestOutput runs the example, its worker a real child process, and checks
// what both print.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, "Result(in process p1): [1, 4, 9, 16]\nResult(in main program): [1, 4, 9, 16]\n")
}

// TestWorkerDies: the worker killed, the example exits non-zero and
// unlinks its named segment all the same: nothing else would.
func TestWorkerDies(t *testing.T) {
	exampletest.RunWorkerDies(t, "shm-squares.square_list", 20*time.Second)
}

// TestInterrupted: Ctrl-C or kill while the worker runs, and the example
// unlinks its named segment before it exits: nothing else would.
func TestInterrupted(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			exampletest.RunInterrupted(t, "shm-squares.square_list", sig, 20*time.Second)
		})
	}
}
