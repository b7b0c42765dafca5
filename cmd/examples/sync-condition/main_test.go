package main

import (
	"os"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// TestOutput runs the example, its workers real child processes: the first
// four lines come in this order, and the two stage-2 workers run only after
// stage 1 is done, in either order.
func TestOutput(t *testing.T) {
	out := exampletest.Run(t, main)
	head := "Starting stage_2[1]\nStarting stage_2[2]\nStarting s1\ns1 done and ready for stage 2\n"
	tails := []string{"stage_2[1] running\nstage_2[2] running\n", "stage_2[2] running\nstage_2[1] running\n"}
	if out != head+tails[0] && out != head+tails[1] {
		t.Fatalf("output:\n%s\nwant:\n%s%s", out, head, strings.ReplaceAll(tails[0], "\n", " (either order)\n"))
	}
}
