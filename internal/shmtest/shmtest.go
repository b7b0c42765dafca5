// Package shmtest gives tests segments that never collide and never outlive
// the test: names carry the test process's PID, and cleanup unlinks them.
package shmtest

import (
	"fmt"
	"os"
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

// Timeout scales the bound d on a test whose iterations Iterations scales:
// fifty times d in a soak run, d otherwise (a bound, not a target: -short
// keeps it whole).
func Timeout(tb testing.TB, d time.Duration) time.Duration {
	if Soak() {
		return soakFactor * d
	}
	return d
}
