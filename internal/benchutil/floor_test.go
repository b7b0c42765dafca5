package benchutil

import (
	"flag"
	"testing"
	"time"
)

// TestFloor: two threads that spin on one line answer each other in well
// under the budget's worth of a round trip, and the figure is positive.
// (The bound is a sanity one: a loaded machine's round trip of a few
// time slices still passes; a pinger that never waited for its answer,
// or never recorded, gives 0.)
func TestFloor(t *testing.T) {
	f := Floor()
	if f <= 0 || f > floorBudget {
		t.Fatalf("Floor() = %v, want in (0, %v]", f, floorBudget)
	}
	t.Logf("floor p50 %v", f)
}

// TestReportFloor: the benchmark's results carry floor-p50-ns.
func TestReportFloor(t *testing.T) {
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil { // one call of the function
		t.Fatal(err)
	}
	defer bt.Value.Set(old)
	r := testing.Benchmark(func(b *testing.B) {
		ReportFloor(b)
		b.ResetTimer() // drops the metrics reported so far: the floor's comes after
		for range b.N {
		}
	})
	if v := r.Extra["floor-p50-ns"]; v <= 0 || v > float64(floorBudget/time.Nanosecond) {
		t.Fatalf("floor-p50-ns = %v in %v", v, r.Extra)
	}
}
