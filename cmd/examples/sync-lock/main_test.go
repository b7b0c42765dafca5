package main

import (
	"fmt"
	"github.com/shmkit/shmkit/cmd/examples/sync-lock/example"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

const lines = example.Lines

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
		var want []string
		for _, kind := range []string{"directly", "via with"} {
			for i := 1; i <= lines; i++ {
				want = append(want, fmt.Sprintf("Lock acquired %s (%d of %d)", kind, i, lines))
			}
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
