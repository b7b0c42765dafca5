package benchutil

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestFloor: two threads that spin on each other's line answer each
// other, the figure is positive, and every thread of the process is left
// with the CPUs it had, the main thread too (the runtime parks a main
// thread whose goroutine ended locked to it, pinned for good). Run 100
// times (shmtest.Iterations): the ponger lands on the main thread about
// once in 40 calls. No bound on the figure: on a loaded machine a round
// trip is a few time slices, 8-16 ms beside 8 busy loops on 2 CPUs.
func TestFloor(t *testing.T) {
	needTwoCPUs(t)
	for i := range shmtest.Iterations(t, 100) {
		before := threadCPUs(t)
		f := Floor()
		if f <= 0 {
			t.Fatalf("call %d: Floor() = %v with two CPUs to run on", i, f)
		}
		if i == 0 {
			t.Logf("floor p50 %v", f)
		}
		for tid, cpus := range threadCPUs(t) {
			if b, ok := before[tid]; ok && b != cpus {
				t.Fatalf("call %d: thread %s: CPUs %s after Floor, %s before", i, tid, cpus, b)
			} else if !ok && cpus != before["self"] {
				t.Fatalf("call %d: thread %s, new since Floor began: CPUs %s, the process's %s", i, tid, cpus, before["self"])
			}
		}
	}
}

// needTwoCPUs skips a test where Floor has no two CPUs to run on.
func needTwoCPUs(t *testing.T) {
	t.Helper()
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		t.Fatal(err)
	}
	if had.Count() < 2 || runtime.GOMAXPROCS(0) < 2 {
		t.Skipf("%d CPUs allowed, GOMAXPROCS %d: no floor to take", had.Count(), runtime.GOMAXPROCS(0))
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
	needTwoCPUs(t)
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
	if v := r.Extra["floor-p50-ns"]; v <= 0 {
		t.Fatalf("floor-p50-ns = %v in %v", v, r.Extra)
	}
}

// TestCPUList reads the kernel's CPU lists, ranges and all.
func TestCPUList(t *testing.T) {
	f := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(f, []byte("0-2,8,10-11\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := cpuList(f)
	for _, c := range []int{0, 1, 2, 8, 10, 11} {
		if !got[c] {
			t.Errorf("CPU %d missing from %v", c, got)
		}
	}
	if len(got) != 6 {
		t.Errorf("cpuList = %v, want 6 CPUs", got)
	}
	if cpuList(filepath.Join(t.TempDir(), "none")) != nil {
		t.Error("a list that cannot be read gives CPUs")
	}
}
