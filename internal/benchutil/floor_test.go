package benchutil

import (
	"flag"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFloor: two threads that spin on one line answer each other, the
// figure is positive and within what the histogram holds, and every
// thread of the process is left with the CPUs it had. (No tighter bound:
// on a loaded machine a round trip is a few time slices, 8-16 ms beside 8
// busy loops on 2 CPUs.)
func TestFloor(t *testing.T) {
	runtime.LockOSThread() // the thread Floor pins and restores is this one
	defer runtime.UnlockOSThread()
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		t.Fatal(err)
	}
	if had.Count() < 2 || runtime.GOMAXPROCS(0) < 2 {
		t.Skipf("%d CPUs allowed, GOMAXPROCS %d: no floor to take", had.Count(), runtime.GOMAXPROCS(0))
	}
	before := threadCPUs(t)
	f := Floor()
	if f <= 0 || f > 10*time.Second {
		t.Fatalf("Floor() = %v, want in (0, 10s]", f)
	}
	t.Logf("floor p50 %v", f)
	var now unix.CPUSet
	if err := unix.SchedGetaffinity(0, &now); err != nil {
		t.Fatal(err)
	}
	if now != had {
		t.Errorf("the calling thread's CPUs: %v after Floor, %v before", now, had)
	}
	for tid, cpus := range threadCPUs(t) {
		if b, ok := before[tid]; ok && b != cpus {
			t.Errorf("thread %s: CPUs %s after Floor, %s before", tid, cpus, b)
		} else if !ok && cpus != before["self"] {
			t.Errorf("thread %s, new since Floor began: CPUs %s, the process's %s", tid, cpus, before["self"])
		}
	}
}

// threadCPUs returns each thread's Cpus_allowed_list by tid, and the
// process's as "self".
func threadCPUs(t *testing.T) map[string]string {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "" // a thread that ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	m := map[string]string{"self": read("/proc/self/status")}
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tids {
		if c := read("/proc/self/task/" + d.Name() + "/status"); c != "" {
			m[d.Name()] = c
		}
	}
	return m
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
	if v := r.Extra["floor-p50-ns"]; v <= 0 || v > float64(10*time.Second/time.Nanosecond) {
		t.Fatalf("floor-p50-ns = %v in %v", v, r.Extra)
	}
}
