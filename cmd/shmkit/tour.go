package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// modulePath is the module whose examples the tour runs.
const modulePath = "github.com/shmkit/shmkit"

// groupOrder is the order the tour shows example groups in (the prefix of
// the directory name before the first '-'); other groups follow,
// alphabetically.
var groupOrder = []string{"process", "shm", "sync", "value", "array", "queue", "pipe"}

// exampleTimeout bounds one example's run.
const exampleTimeout = 2 * time.Minute

func cmdTour(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	list := fs.Bool("list", false, "list the examples in tour order, run nothing")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	root, err := findRoot()
	if err != nil {
		return err
	}
	all, err := discover(filepath.Join(root, "cmd", "examples"))
	if err != nil {
		return err
	}
	examples := all
	if len(names) > 0 {
		examples = nil
		for _, want := range names {
			if !contains(all, want) {
				return fmt.Errorf("%w: no example %q under cmd/examples (try 'shmkit tour --list')", errUsage, want)
			}
			examples = append(examples, want)
		}
	}
	if *list {
		for _, e := range examples {
			fmt.Fprintln(out, e)
		}
		return nil
	}
	if len(examples) == 0 {
		fmt.Fprintln(out, "no examples under cmd/examples")
		return nil
	}
	bin, err := os.MkdirTemp("", "shmkit-tour-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	fmt.Fprintf(out, "building %d examples...\n", len(examples))
	buildErrs := build(root, bin, examples)
	var failed []string
	for i, e := range examples {
		fmt.Fprintf(out, "\n=== %s (%d/%d)\n", e, i+1, len(examples))
		if berr := buildErrs[e]; berr != nil {
			fmt.Fprintf(out, "%v\n--- FAIL %s: does not build\n", berr, e)
			failed = append(failed, e)
			continue
		}
		start := time.Now()
		if err := runExample(root, filepath.Join(bin, e), out); err != nil {
			fmt.Fprintf(out, "--- FAIL %s: %v\n", e, err)
			failed = append(failed, e)
			continue
		}
		fmt.Fprintf(out, "--- ok %s (%.2fs)\n", e, time.Since(start).Seconds())
	}
	fmt.Fprintf(out, "\ntour: %d examples, %d failed\n", len(examples), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// findRoot walks up from the working directory to the shmkit module root.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePathOf(b) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: not inside the shmkit repository (no go.mod of %s above the working directory)", errUsage, modulePath)
		}
		dir = parent
	}
}

func modulePathOf(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// discover lists the example directories (those holding a .go file) in
// tour order.
func discover(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.go")); len(m) > 0 {
			names = append(names, e.Name())
		}
	}
	sortTour(names)
	return names, nil
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

// build compiles every example into bin with one go build (the go command
// builds them in parallel and shares their dependencies). If that fails it
// builds them one by one to say which fail.
func build(root, bin string, examples []string) map[string]error {
	goBin := goCommand()
	pkgs := make([]string, len(examples))
	for i, e := range examples {
		pkgs[i] = "./cmd/examples/" + e
	}
	if _, err := goBuild(root, goBin, bin+string(filepath.Separator), pkgs...); err == nil {
		return nil
	}
	errs := map[string]error{}
	for i, e := range examples {
		if out, err := goBuild(root, goBin, filepath.Join(bin, e), pkgs[i]); err != nil {
			errs[e] = fmt.Errorf("%v\n%s", err, bytes.TrimSpace(out))
		}
	}
	return errs
}

func goBuild(root, goBin, output string, pkgs ...string) ([]byte, error) {
	cmd := exec.Command(goBin, append([]string{"build", "-o", output}, pkgs...)...)
	cmd.Dir = root
	return cmd.CombinedOutput()
}

// goCommand finds the go command: on PATH, or in the GOROOT this program
// was built with.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// runExample runs one built example from the repository root, its output
// going to out.
func runExample(root, exe string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // a stray grandchild holding the output must not hang the tour
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("did not finish within %v", exampleTimeout)
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
