// Package shmtest gives tests segments that never collide and never outlive
// the test: names carry the test process's PID, and cleanup unlinks them.
package shmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

var seq atomic.Int64

// Name returns a segment name unique to this test, process and call:
// "shmkit-test-PID-N-TESTNAME", cut to a valid length.
func Name(tb testing.TB) string {
	n := fmt.Sprintf("shmkit-test-%d-%d-%s", os.Getpid(), seq.Add(1), strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()))
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// Segment creates a segment with a fresh Name and at least size bytes of
// object area; cleanup closes and unlinks it.
func Segment(tb testing.TB, size int64, opts ...shm.Option) *shm.Segment {
	tb.Helper()
	s, err := shm.Create(Name(tb), size, opts...)
	if err != nil {
		tb.Fatalf("shm.Create: %v", err)
	}
	tb.Cleanup(func() {
		s.Unlink()
		s.Close()
	})
	return s
}

// Go runs f in a new goroutine and returns a channel closed when f returns;
// tb's cleanup waits for it too. A goroutine using a segment made earlier
// in the test is then done with it before the segment is unmapped, on every
// way out of the test, t.Fatal and t.Skip included. Seeing what the
// goroutine publishes is not enough: a call that publishes (Close,
// CloseWrite, Put) still touches the mapping after the other side has
// seen it. Cleanups run last in, first out, and a context derived from
// tb.Context() is done before any of them: f must return once it is, and
// must not block on a send nobody receives after a t.Fatal.
func Go(tb testing.TB, f func()) <-chan struct{} {
	done := make(chan struct{})
	tb.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		f()
	}()
	return done
}

// SoakEnv names the environment variable that turns hammer tests into soak
// runs: SHMKIT_SOAK=1 go test -timeout 60m ./...
const SoakEnv = "SHMKIT_SOAK"

// Soak reports whether this is a soak run (SHMKIT_SOAK set and not "0").
func Soak() bool {
	v := os.Getenv(SoakEnv)
	return v != "" && v != "0"
}

// soakFactor is how many times a soak run multiplies a test's iterations.
const soakFactor = 50

// Iterations scales a hammer test's iteration count n: a tenth of it (at
// least 1) under -short, fifty times it in a soak run, n otherwise. A kill
// or crash test that runs once calls it with 1: once, or fifty times in a
// soak run.
func Iterations(tb testing.TB, n int) int {
	switch {
	case Soak():
		return soakFactor * n
	case testing.Short():
		return max(1, n/10)
	}
	return n
}

// NamespaceChildEnv names the environment variable that tells a test binary
// started by InPIDNamespace that it is the child: its value is the payload
// the parent passed (a segment name, say).
const NamespaceChildEnv = "SHMKIT_NS_CHILD"

// NamespaceChild returns the payload InPIDNamespace passed and true when
// the calling test binary runs as that child.
func NamespaceChild() (string, bool) { return os.LookupEnv(NamespaceChildEnv) }

// PIDNamespaces reports why InPIDNamespace would skip, or nil if this
// machine lets the tests make PID namespaces.
func PIDNamespaces() error {
	probe := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true")
	if out, err := probe.CombinedOutput(); err != nil {
		return fmt.Errorf("unshare --pid --fork --mount-proc: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InPIDNamespace starts the test binary again, running only test, in a new
// PID namespace with its own /proc (unshare --pid --fork --mount-proc): the
// child sees itself as PID 1, and /proc/self names it in its namespace
// only. payload reaches it through NamespaceChild. The test is skipped, with
// the reason, where the machine refuses new namespaces (no unshare(1), no
// privilege). Cleanup kills the child if the test did not wait for it.
func InPIDNamespace(tb testing.TB, test, payload string) *exec.Cmd {
	tb.Helper()
	if err := PIDNamespaces(); err != nil {
		tb.Skipf("cannot make a PID namespace here: %v", err)
	}
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), NamespaceChildEnv+"="+payload)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Skipf("cannot start a child in a PID namespace: %v", err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// Timeout scales the bound d on a test whose iterations Iterations scales:
// fifty times d in a soak run, d otherwise (a bound, not a target: -short
// keeps it whole).
func Timeout(tb testing.TB, d time.Duration) time.Duration {
	if Soak() {
		return soakFactor * d
	}
	return d
}

// Placed lists seg's objects in the order they were placed, each as the
// shm.Placement that asked room for it: its name and its body's size.
func Placed(seg *shm.Segment) []shm.Placement {
	var out []shm.Placement
	for _, info := range seg.Objects() {
		out = append(out, shm.Placement{Name: info.Name, BodySize: int(info.Size) - shm.ObjectHeaderSize})
	}
	return out
}

// ObjectNames lists the names of seg's objects in the order they were placed.
func ObjectNames(seg *shm.Segment) []string {
	var names []string
	for _, o := range Placed(seg) {
		names = append(names, o.Name)
	}
	return names
}

// Refused fails tb unless err is want and seg holds exactly the objects
// named left, in the order they were placed: what a call that refused
// before it placed anything leaves behind. what names the case.
func Refused(tb testing.TB, seg *shm.Segment, what string, err, want error, left ...string) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: %v, want %v", what, err, want)
	}
	if names := ObjectNames(seg); !slices.Equal(names, left) {
		tb.Fatalf("%s: the segment holds %q after the refused call, want %q", what, names, left)
	}
}

// FillDirectory places small objects in seg until its directory has room
// for leave more.
func FillDirectory(tb testing.TB, seg *shm.Segment, leave int) {
	tb.Helper()
	in := seg.Info()
	for i := 0; i < in.DirCap-in.Objects-leave; i++ {
		if _, err := seg.Alloc(fmt.Sprintf("fill-%d", i), shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			tb.Fatal(err)
		}
	}
}
