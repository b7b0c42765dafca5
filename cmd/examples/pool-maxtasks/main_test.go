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

// TestOutput runs the example, its workers real child processes, and
// checks that five workers ran the ten tasks.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
Built-in: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
Starting PoolWorker-1
Starting PoolWorker-2
Starting PoolWorker-3
Starting PoolWorker-4
Starting PoolWorker-5
Pool    : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
`)
}
