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
// what all three print, in order.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `main: waiting before calling Event.set()
wait_for_event: starting
wait_for_event_timeout: starting
wait_for_event_timeout: e.is_set()-> false
main: calling Event.set()
wait_for_event: e.is_set()-> true
`)
}
