package main

import (
	"fmt"
	"github.com/shmkit/shmkit/cmd/examples/value-counter/example"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/exampletest"
	"github.com/shmkit/shmkit/process"
)

const (
	workers   = example.Workers
	additions = example.Additions
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// TestOutput runs the example with its nine workers as real processes. The
// order of the workers' lines varies; what does not: one line per worker,
// each naming a different worker and a different value between 50 and
// 450, the largest of them 450, and a last line of exactly 450.
func TestOutput(t *testing.T) {
	out := exampletest.Run(t, main)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != workers+1 || lines[workers] != "450" {
		t.Fatalf("want %d worker lines and a last line of 450; got:\n%s", workers, out)
	}
	var names []string
	var values []int
	for _, l := range lines[:workers] {
		var name string
		var v int
		if _, err := fmt.Sscanf(l, "%s %d", &name, &v); err != nil || v < additions || v > workers*additions {
			t.Fatalf("worker line %q", l)
		}
		names, values = append(names, name), append(values, v)
	}
	slices.Sort(names)
	slices.Sort(values)
	want := []string{"p1:", "p2:", "p3:", "p4:", "p5:", "p6:", "p7:", "p8:", "p9:"}
	if !slices.Equal(names, want) || len(slices.Compact(values)) != workers || values[workers-1] != workers*additions {
		t.Fatalf("worker lines name %v and show %v; want each worker once, distinct values, the largest 450", names, values)
	}
}
