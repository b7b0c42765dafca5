package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/process"
)

// Environment of TestNoMain's children: what their main does instead of
// calling process.Main, the file each start appends a line to, and how deep
// in a chain of starts the child is (a bound, in case a chain forms).
const (
	envNoMain      = "SHMKIT_TEST_NO_MAIN" // "start" or "exit"
	envNoMainCount = "SHMKIT_TEST_NO_MAIN_COUNT"
	envNoMainDepth = "SHMKIT_TEST_NO_MAIN_DEPTH"
	maxNoMainDepth = 3
)

// forgetMain is the start of a TestMain that forgets process.Main: in a
// child of TestNoMain it records the start, then either starts a worker
// (which would start this program again, and again) or exits 0, as a main
// that does something else would. Elsewhere it returns at once.
func forgetMain() {
	mode := os.Getenv(envNoMain)
	if mode == "" {
		return
	}
	f, err := os.OpenFile(os.Getenv(envNoMainCount), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		os.Exit(10)
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	depth, _ := strconv.Atoi(os.Getenv(envNoMainDepth))
	if mode != "start" || depth >= maxNoMainDepth {
		os.Exit(0)
	}
	os.Setenv(envNoMainDepth, strconv.Itoa(depth+1)) // the next start's environment
	if err := reporter.Run(context.Background(), 0, process.WithStdout(io.Discard)); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// TestNoMain runs a worker in a program whose main does not call
// process.Main: Run must fail with ErrNoMain, in a message that names
// process.Main, and the program must be started exactly once.
func TestNoMain(t *testing.T) {
	for _, mode := range []string{"start", "exit"} {
		t.Run(mode, func(t *testing.T) {
			count := filepath.Join(t.TempDir(), "starts")
			if err := os.WriteFile(count, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			// A bound on a hang, not a timing assertion: the child is one
			// exec of this binary.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			err := reporter.Run(ctx, 0, process.WithStdout(io.Discard), process.WithStderr(&stderr),
				process.WithEnv(envNoMain+"="+mode, envNoMainCount+"="+count, envNoMainDepth+"=0"))
			b, rerr := os.ReadFile(count)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if starts := strings.Count(string(b), "\n"); starts != 1 {
				t.Errorf("the program was started %d times, want 1", starts)
			}
			var ee *process.ExitError
			if !errors.Is(err, process.ErrNoMain) || !errors.As(err, &ee) {
				t.Fatalf("Run = %v (stderr %q), want an *ExitError matching ErrNoMain", err, stderr.String())
			}
			if !strings.Contains(err.Error(), "process.Main") {
				t.Errorf("the error does not name process.Main: %v", err)
			}
			if errors.Is(err, process.ErrPanicked) || errors.Is(err, process.ErrNotRegistered) {
				t.Errorf("Run = %v matches another sentinel", err)
			}
			t.Log(err)
		})
	}
}
