package main

import (
	"fmt"
	"github.com/shmkit/shmkit/cmd/examples/sync-lock/example"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

const lines = example.Lines

func TestMain(m *testing.M) {
	exampletest.Dispatch(main)
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

// TestWorkerDies: the two workers meet at a barrier before they contend;
// one killed before it gets there leaves the other waiting, and main,
// waiting for that other first, must still see the dead one and exit
// non-zero, not wait for ever.
func TestWorkerDies(t *testing.T) {
	for _, w := range []string{"sync-lock.worker_with", "sync-lock.worker_no_with"} {
		t.Run(w, func(t *testing.T) { exampletest.RunWorkerDies(t, w, 20*time.Second) })
	}
}
