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
// checks what they print.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, "Queue elements:\n1\n4\n9\n16\nQueue is now empty!\n")
}
