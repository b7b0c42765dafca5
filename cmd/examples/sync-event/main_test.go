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

// TestWorkerDies: main waits for the "block" worker to start waiting on
// the event; killed before it gets there, that worker never will, and main
// must say so and exit non-zero, not wait for ever.
func TestWorkerDies(t *testing.T) {
	exampletest.RunWorkerDies(t, "sync-event.wait_for_event", 20*time.Second)
}
