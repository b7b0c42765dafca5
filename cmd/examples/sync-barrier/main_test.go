package main

import (
	"os"
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

// TestOutput runs the example, its workers real child processes, and checks
// its output exactly: a worker that ran ahead of a phase would change a sum.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `phase 1: [1 2 3] sum 6
phase 2: [2 4 6] sum 12
phase 3: [3 6 9] sum 18
3 workers, 3 phases, arrival indices per phase: 0+1+2
`)
}

// TestWorkerDies: a worker killed before it reaches the barrier leaves
// the other two waiting there (a barrier cannot know that a process which
// never arrived was one of its parties); main must see the dead one and
// exit non-zero, not wait for ever on the first.
func TestWorkerDies(t *testing.T) {
	exampletest.RunWorkerDies(t, "Process-2", 20*time.Second)
}
