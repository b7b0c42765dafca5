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

// TestOutput runs the example, its manager's server and workers real child
// processes, and checks what they print.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `Name: Sam, Score: 10
Name: Adam, Score: 9
Name: Kevin, Score: 9
Name: Jeff, Score: 8
`)
}
