package main

import (
	"fmt"
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
// what the parent prints after the child changed the shared memory.
func TestOutput(t *testing.T) {
	want := "3.1415927\n["
	for i := range 50 {
		if i > 0 {
			want += " "
		}
		want += fmt.Sprint(-i)
	}
	exampletest.Check(t, main, want+"]\n")
}
