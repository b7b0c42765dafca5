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

// TestOutput runs the example, its producers real child processes, and
// checks that every record arrived once and in order.
func TestOutput(t *testing.T) {
	exampletest.Check(t, main, `producer 0: 1000 records in order, sum 499500
producer 1: 1000 records in order, sum 499500
producer 2: 1000 records in order, sum 499500
3000 records, 48000 bytes, read in place
`)
}
