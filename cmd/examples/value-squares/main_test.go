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

// TestOutput runs the example, its worker a real child process, and checks
// what both print.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `Result(in process p1): [1 4 9 16]
Sum of squares(in process p1): 30
Result(in main program): [1 4 9 16]
Sum of squares(in main program): 30
`)
}
