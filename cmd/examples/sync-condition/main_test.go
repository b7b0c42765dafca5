package main

import (
	"os"
	"strings"
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

// TestWorkerDies: main waits under the condition for each stage-2 worker
// to be waiting; one killed before it gets there never will, and main
// must say so and exit non-zero, not wait for ever.
func TestWorkerDies(t *testing.T) {
	exampletest.RunWorkerDies(t, "sync-condition.stage_2", 20*time.Second)
}
