package main

import (
	"fmt"
	"github.com/shmkit/shmkit/cmd/examples/sync-semaphore/example"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

const workers = example.Workers

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

var line = regexp.MustCompile(`^Activating (\d) now running \[((?:'\d'(?:, )?)*)\]$`)

// TestOutput runs the example, its ten workers real child processes, and
// checks what the scheduler leaves fixed: each worker activates once, every
// active list holds at most three names (sorted, no repeats) including the
// new one, and at the end nobody is running.
func TestOutput(t *testing.T) {
	out := exampletest.Run(t, main)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != workers+1 || lines[workers] != "Now running []" {
		t.Fatalf("output:\n%s\nwant %d Activating lines, then Now running []", out, workers)
	}
	seen := map[string]bool{}
	for _, l := range lines[:workers] {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed line %q", l)
		}
		name, list := m[1], strings.Split(m[2], ", ")
		if seen[name] {
			t.Fatalf("worker %s activated twice", name)
		}
		seen[name] = true
		if len(list) > 3 {
			t.Fatalf("%d workers active at once: %q", len(list), l)
		}
		found := false
		for i, n := range list {
			if i > 0 && list[i-1] >= n {
				t.Fatalf("list not sorted or repeats a name: %q", l)
			}
			found = found || n == fmt.Sprintf("'%s'", name)
		}
		if !found {
			t.Fatalf("the new worker is not in its own list: %q", l)
		}
	}
}
