package main

import (
	"os"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
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
