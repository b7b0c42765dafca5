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
	exampletest.Check(t, main, `{0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}
`)
}
