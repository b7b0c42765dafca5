package process_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/process"
)

var (
	parentReporter = process.Register("family-test-parent", func(ctx context.Context, _ int) error {
		p, ok := process.Parent()
		fmt.Printf("%v %d %q %q\n", ok, p.Pid, p.Worker, p.Name)
		return nil
	})
	// grandparent starts a parentReporter of its own, named "child, of a worker".
	grandparent = process.Register("family-test-grandparent", func(ctx context.Context, _ int) error {
		return parentReporter.Run(ctx, 0, process.WithName("child, of a worker"))
	})
	// blocker blocks until killed.
	blocker = process.Register("family-test-blocker", func(ctx context.Context, _ int) error { select {} })
	quick   = process.Register("family-test-quick", func(ctx context.Context, _ int) error { return nil })
)

func TestParent(t *testing.T) {
	if _, ok := process.Parent(); ok {
		t.Fatal("Parent in the main process: ok")
	}
	var out strings.Builder
	if err := parentReporter.Run(context.Background(), 0, process.WithStdout(&out)); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("true %d %q %q\n", os.Getpid(), "", "MainProcess"); out.String() != want {
		t.Fatalf("child says %q, want %q", out.String(), want)
	}
	out.Reset()
	p, err := grandparent.Start(context.Background(), 0, process.WithStdout(&out), process.WithName("the, middle"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("true %d %q %q\n", p.Pid(), "family-test-grandparent", "the, middle"); out.String() != want {
		t.Fatalf("grandchild says %q, want %q", out.String(), want)
	}
}

func TestActiveChildrenAndWaitAny(t *testing.T) {
	ctx := context.Background()
	b, err := blocker.Start(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Kill()
	q, err := quick.Start(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := process.WaitAny(ctx, b, q)
	if err != nil || len(got) != 1 || got[0] != q {
		t.Fatalf("WaitAny = %v, %v; want the quick one", got, err)
	}
	if slices.Contains(process.ActiveChildren(), q) || !slices.Contains(process.ActiveChildren(), b) {
		t.Fatalf("ActiveChildren after the quick one exited: %v", process.ActiveChildren())
	}
	// Already exited: at once.
	if got, err := process.WaitAny(ctx, q, b); err != nil || len(got) != 1 || got[0] != q {
		t.Fatalf("WaitAny again = %v, %v", got, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := process.WaitAny(cctx, b); !errors.Is(err, context.Canceled) || got != nil {
		t.Fatalf("WaitAny with a cancelled context = %v, %v", got, err)
	}
	if got, err := process.WaitAny(ctx); got != nil || err != nil {
		t.Fatalf("WaitAny() = %v, %v", got, err)
	}
	if _, err := process.WaitAny(ctx, new(process.Process)); !errors.Is(err, process.ErrNotStarted) {
		t.Fatalf("WaitAny(never started) = %v", err)
	}
	b.Kill()
	if got, err := process.WaitAny(ctx, b); err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("WaitAny after Kill = %v, %v", got, err)
	}
	if slices.Contains(process.ActiveChildren(), b) {
		t.Fatal("a reaped child is still active")
	}
}
