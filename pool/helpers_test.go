package pool_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
	"github.com/shmkit/shmkit/shm"
)

// The environment a test sets before it starts a pool, which its workers
// inherit: where a holding task reports and waits, and the counter of the
// tasks that ran.
const (
	envFifo  = "POOL_TEST_FIFO"
	envCount = "POOL_TEST_COUNT"
)

// hold doubles x; a negative x first reports the worker's PID on the FIFO
// named by envFifo and waits there to be released (or killed). A holding
// task that runs again after its worker was killed (WithRetries) finds the
// mark it left and returns at once. Every non-negative x counts in the
// shared counter when envCount names one.
var hold = pool.Register("pool_test.hold", func(ctx context.Context, x int64) (int64, error) {
	if x >= 0 {
		countTask()
		return 2 * x, nil
	}
	dir := os.Getenv(envFifo)
	mark := filepath.Join(dir, "held"+strconv.FormatInt(-x, 10))
	if _, err := os.Stat(mark); err == nil {
		return 2 * x, nil
	}
	if err := os.WriteFile(mark, nil, 0o600); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "pids"), os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	f.Close()
	r, err := os.Open(filepath.Join(dir, "release"))
	if err != nil {
		return 0, err
	}
	var b [1]byte
	r.Read(b[:])
	r.Close()
	return 2 * x, nil
})

var (
	counterOnce sync.Once
	counter     *int64
)

func countTask() {
	counterOnce.Do(func() {
		name := os.Getenv(envCount)
		if name == "" {
			return
		}
		seg, err := shm.Open(name)
		if err != nil {
			panic(err)
		}
		a, err := array.OpenRaw[int64](seg, "count")
		if err != nil {
			panic(err)
		}
		counter = &a.Slice()[0]
	})
	if counter != nil {
		atomic.AddInt64(counter, 1)
	}
}

// holder is the test's side of hold: the FIFOs and the counter.
type holder struct {
	dir   string
	pids  *bufio.Reader
	rel   *os.File
	count *int64
}

// newHolder makes the FIFOs and counter and points the workers of pools
// started afterwards at them.
func newHolder(t *testing.T) *holder {
	dir := t.TempDir()
	for _, n := range []string{"pids", "release"} {
		if err := syscall.Mkfifo(filepath.Join(dir, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Read-write: the FIFO never reports end of file between writers.
	f, err := os.OpenFile(filepath.Join(dir, "pids"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rel, err := os.OpenFile(filepath.Join(dir, "release"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rel.Close() })
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.CreateRaw[int64](seg, "count", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envFifo, dir)
	t.Setenv(envCount, seg.Name())
	return &holder{dir: dir, pids: bufio.NewReader(f), rel: rel, count: &a.Slice()[0]}
}

// held waits for the next holding task to report and returns its worker's
// PID.
func (h *holder) held(t *testing.T) int {
	t.Helper()
	line, err := h.pids.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// release lets n holding tasks go on.
func (h *holder) release(t *testing.T, n int) {
	if _, err := h.rel.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}
