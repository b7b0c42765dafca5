package main

import (
	"fmt"
	"os"
	"runtime"
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
	exampletest.Check(t, main, want())
}

func want() string {
	s := ""
	for i := range 10 {
		s += fmt.Sprintf("Result: %d * %d = %d\n", i, i, i*i)
	}
	return s + fmt.Sprintf("Consumers exited: %d (2 per core)\n", 2*runtime.NumCPU())
}
