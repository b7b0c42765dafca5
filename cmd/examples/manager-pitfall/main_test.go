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

// TestOutput runs the example, its manager's server and workers real child
// processes, and checks what they print.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `Before event: []
After event, appended to a copy: []
After event, appended in the server: [This is the value]
`)
}

// TestWorkerDies: main waits for the producer to set the event; killed
// before it gets there, the producer never will, and main must say so and
// exit non-zero, not wait for ever.
func TestWorkerDies(t *testing.T) {
	exampletest.RunWorkerDies(t, "manager-pitfall.producer", 20*time.Second)
}
