package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// envExample marks a copy of this program started by the tour to run one
// example: runTourExample, called from main, runs it and exits.
const envExample = "SHMKIT_TOUR_EXAMPLE"

// groupOrder is the order the tour shows example groups in (the prefix of
// the example's name before the first '-'); other groups follow,
// alphabetically.
var groupOrder = []string{"process", "shm", "sync", "value", "array", "queue", "pipe", "pool", "manager"}

// exampleTimeout bounds one example's run.
const exampleTimeout = 2 * time.Minute

// The tour runs the examples linked into this binary (examples.go), each in
// a copy of this program of its own, as if it were its own program: an
// installed shmkit needs no source checkout and no go command.
func cmdTour(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	list := fs.Bool("list", false, "list the examples in tour order, run nothing")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	all := tourNames()
	todo := all
	if len(names) > 0 {
		todo = nil
		for _, want := range names {
			if !slices.Contains(all, want) {
				return fmt.Errorf("%w: no example %q (try 'shmkit tour --list')", errUsage, want)
			}
			todo = append(todo, want)
		}
	}
	if *list {
		for _, e := range todo {
			fmt.Fprintln(out, e)
		}
		return nil
	}
	// Ctrl-C or kill stops the example that runs (runExample waits for it
	// to go), then the tour.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var failed []string
	for i, e := range todo {
		fmt.Fprintf(out, "\n=== %s (%d/%d)\n", e, i+1, len(todo))
		start := time.Now()
		err := runExample(ctx, e, out)
		if ctx.Err() != nil {
			fmt.Fprintf(out, "--- interrupted %s\n", e)
			return fmt.Errorf("interrupted in %s (%d of %d examples run, %d failed)", e, i, len(todo), len(failed))
		}
		if err != nil {
			fmt.Fprintf(out, "--- FAIL %s: %v\n", e, err)
			failed = append(failed, e)
			continue
		}
		fmt.Fprintf(out, "--- ok %s (%.2fs)\n", e, time.Since(start).Seconds())
	}
	fmt.Fprintf(out, "\ntour: %d examples, %d failed\n", len(todo), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// tourNames lists the examples in tour order.
func tourNames() []string {
	names := make([]string, 0, len(examples))
	for n := range examples {
		names = append(names, n)
	}
	sortTour(names)
	return names
}

// runTourExample runs the example named in envExample and exits, when this
// process was started by the tour to run one; otherwise it returns at once.
// main calls it after process.Main (the example's workers are copies of
// this program too, started by process.Start).
func runTourExample() {
	name, ok := os.LookupEnv(envExample)
	if !ok {
		return
	}
	os.Unsetenv(envExample) // the example's own children are workers, not examples
	f := examples[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "shmkit: no example %q in this binary\n", name)
		os.Exit(exitUsage)
	}
	f()
	os.Exit(exitOK)
}

// sortTour orders example names by group (groupOrder first, then the other
// groups alphabetically), then by name.
func sortTour(names []string) {
	rank := func(name string) int {
		group, _, _ := strings.Cut(name, "-")
		for i, g := range groupOrder {
			if g == group {
				return i
			}
		}
		return len(groupOrder)
	}
	sort.SliceStable(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
}

// runExample runs one example in a copy of this program, its output going
// to out. When ctx is done, or the example runs past exampleTimeout, the
// example gets SIGTERM, then SIGKILL if it has not exited 5s later;
// runExample returns once it has exited. The example dies with this
// process (SIGKILL on parent death) when this one is killed outright.
func runExample(ctx context.Context, name string, out io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, exampleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{exe}
	cmd.Env = append(os.Environ(), envExample+"="+name)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second // then SIGKILL; and a stray grandchild holding the output must not hang the tour
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Linux sends the parent-death signal when the thread that forked the
	// child exits, not the process: keep this goroutine on that thread
	// until the child has gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("did not finish within %v", exampleTimeout)
	}
	return err
}
