package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// TestOutput runs the example, its workers real child processes, and checks
// that every line came out whole and each worker's lines in its order. The
// order between the two workers is the scheduler's.
func TestOutput(t *testing.T) {
	for run := 0; run < 3; run++ {
		out := exampletest.Run(t, main)
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		want := []string{
			"Lock acquired directly (1 of 3)", "Lock acquired directly (2 of 3)", "Lock acquired directly (3 of 3)",
			"Lock acquired via with (1 of 3)", "Lock acquired via with (2 of 3)", "Lock acquired via with (3 of 3)",
		}
		var with, direct []string
		for _, l := range got {
			if strings.Contains(l, "via with") {
				with = append(with, l)
			} else {
				direct = append(direct, l)
			}
		}
		if !slices.Equal(append(direct, with...), want) {
			t.Fatalf("output:\n%s\nwant these lines, whole, each worker's in order:\n%s", out, strings.Join(want, "\n"))
		}
	}
}
