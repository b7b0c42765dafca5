package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	runTourExample()
	os.Exit(m.Run())
}

type leakArgs struct{ Dir, Name string }

// leaker creates a segment and exits without unlinking it: its creator is
// then dead, which is what gc collects.
var leaker = process.Register("shmkit-cmd-leaker", func(ctx context.Context, a leakArgs) error {
	s, err := shm.Create(a.Name, 4096, shm.WithDir(a.Dir))
	if err != nil {
		return err
	}
	return s.Close()
})

// shmkit runs one command line and returns its exit status and output.
func shmkit(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s output lacks %q:\n%s", what, w, out)
		}
	}
}

func TestLsStatRm(t *testing.T) {
	dir := t.TempDir()
	seg, err := shm.Create("lsseg", 1<<16, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if _, err := seg.Alloc("counter", shm.ObjectSpec{Kind: shm.KindValue, Version: 3, Type: shm.TypeID{Size: 8, Align: 8, Hash: 0xabc}, Capacity: 1, BodySize: 8}, nil); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := shmkit("ls", "--dir", dir)
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, errOut)
	}
	mustContain(t, "ls", out, "NAME", "lsseg", "segment", "alive", strconv.Itoa(os.Getpid()))

	code, out, errOut = shmkit("stat", "--dir", dir, "lsseg")
	if code != exitOK {
		t.Fatalf("stat: exit %d: %s", code, errOut)
	}
	mustContain(t, "stat", out, "name:", "lsseg", "layout version 2", "1 of 64 directory entries", "counter", "value", "8B/align8/0000000000000abc")

	code, out, errOut = shmkit("rm", "--dir", dir, "lsseg")
	if code != exitOK {
		t.Fatalf("rm: exit %d: %s", code, errOut)
	}
	mustContain(t, "rm", out, "removed lsseg")
	if _, err := os.Stat(filepath.Join(dir, "lsseg")); !os.IsNotExist(err) {
		t.Fatalf("rm left the file: %v", err)
	}
	code, out, _ = shmkit("ls", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "no shmkit segments") {
		t.Fatalf("ls after rm: exit %d: %s", code, out)
	}
}

func TestGc(t *testing.T) {
	dir := t.TempDir()
	if err := leaker.Run(context.Background(), leakArgs{Dir: dir, Name: "dead"}); err != nil {
		t.Fatal(err)
	}
	live, err := shm.Create("live", 4096, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	code, out, _ := shmkit("ls", "--dir", dir)
	if code != exitOK {
		t.Fatalf("ls: exit %d", code)
	}
	mustContain(t, "ls", out, "dead", "live")

	code, out, _ = shmkit("gc", "--dir", dir, "--dry-run")
	if code != exitOK {
		t.Fatalf("gc --dry-run: exit %d", code)
	}
	mustContain(t, "gc --dry-run", out, "would remove dead")
	if strings.Contains(out, "live") {
		t.Errorf("gc --dry-run would remove a live segment:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "dead")); err != nil {
		t.Fatalf("gc --dry-run removed the segment: %v", err)
	}

	code, out, _ = shmkit("gc", "--dir", dir)
	if code != exitOK {
		t.Fatalf("gc: exit %d", code)
	}
	mustContain(t, "gc", out, "removed dead")
	infos, err := shm.List(shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != "live" {
		t.Fatalf("after gc: %+v, want only the live segment", infos)
	}
	code, out, _ = shmkit("gc", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "nothing to collect") {
		t.Fatalf("second gc: exit %d: %s", code, out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stranger"), []byte("not a segment, but long enough to have a header-sized prefix of bytes in it; really quite long indeed, more than 128 bytes all told"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"ls", "extra"}, exitUsage, "no arguments"},
		{[]string{"ls", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"stat"}, exitUsage, "one segment name"},
		{[]string{"stat", "a", "b"}, exitUsage, "one segment name"},
		{[]string{"stat", "../etc"}, exitUsage, "invalid name"},
		{[]string{"stat", "."}, exitUsage, `invalid name: "." is the directory itself`},
		{[]string{"stat", "--dir", dir, "missing"}, exitFail, "no such file"},
		{[]string{"stat", "--dir", dir, "stranger"}, exitFail, "not a shmkit segment"},
		{[]string{"rm"}, exitUsage, "at least one"},
		{[]string{"rm", "--dir", dir, "stranger"}, exitFail, "not a shmkit segment"},
		{[]string{"rm", "--dir", dir, "missing"}, exitFail, "no such file"},
		{[]string{"rm", "a/b"}, exitUsage, "invalid name"},
		{[]string{"gc", "extra"}, exitUsage, "no arguments"},
		{[]string{"tour", "no-such-example"}, exitUsage, "no example"},
	} {
		code, _, errOut := shmkit(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("shmkit %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stranger")); err != nil {
		t.Errorf("rm removed a file that is not a segment: %v", err)
	}
	if code, out, _ := shmkit("help"); code != exitOK || !strings.Contains(out, "shmkit gc") {
		t.Errorf("help: exit %d: %s", code, out)
	}
}

func TestTourOrder(t *testing.T) {
	got := []string{"zeta-a", "queue-b", "array-a", "pipe-a", "process-b", "alpha-x", "sync-a", "value-a", "shm-a", "process-a", "queue-a"}
	sortTour(got)
	want := []string{"process-a", "process-b", "shm-a", "sync-a", "value-a", "array-a", "queue-a", "queue-b", "pipe-a", "alpha-x", "zeta-a"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tour order %q, want %q", got, want)
	}
}

func TestTourRunsExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an example program")
	}
	code, out, errOut := shmkit("tour", "process-squares")
	if code != exitOK {
		t.Fatalf("tour: exit %d: %s\n%s", code, out, errOut)
	}
	mustContain(t, "tour", out, "=== process-squares (1/1)", "Result(in process p1): [1, 4, 9, 16]\nResult(in main program): []\n", "--- ok process-squares", "tour: 1 examples, 0 failed")
}

// failingTour replaces the examples in TestTourFailures, in the test and in
// the copies of the test binary that the tour starts (envFailingTour).
var failingTour = map[string]func(){
	"zz-ok":         func() { fmt.Println("fine") },
	"shm-exit":      func() { os.Exit(3) },
	"process-panic": func() { panic("on purpose") },
}

const envFailingTour = "SHMKIT_TEST_FAILING_TOUR"

func init() {
	if os.Getenv(envFailingTour) == "1" {
		examples = failingTour
	}
}

// TestTourFailures runs a tour whose examples fail in each way: the tour
// must run the rest, say which failed, and exit 1.
func TestTourFailures(t *testing.T) {
	t.Setenv(envFailingTour, "1")
	saved := examples
	examples = failingTour
	defer func() { examples = saved }()
	code, out, errOut := shmkit("tour", "--list")
	if code != exitOK || out != "process-panic\nshm-exit\nzz-ok\n" {
		t.Fatalf("tour --list: exit %d, %q %s", code, out, errOut)
	}
	code, out, errOut = shmkit("tour")
	if code != exitFail {
		t.Fatalf("tour with failing examples: exit %d, want %d\n%s", code, exitFail, out)
	}
	mustContain(t, "tour", out, "--- FAIL process-panic: exit status 2", "on purpose", "--- FAIL shm-exit: exit status 3", "fine\n--- ok zz-ok", "tour: 3 examples, 2 failed")
	mustContain(t, "tour stderr", errOut, "failed: process-panic, shm-exit")
}

// TestTourHasEveryExample checks that the binary links every program under
// cmd/examples, and nothing else.
func TestTourHasEveryExample(t *testing.T) {
	ents, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("../examples", e.Name(), "main.go")); err == nil {
			dirs = append(dirs, e.Name())
		}
	}
	sortTour(dirs)
	if got := tourNames(); !reflect.DeepEqual(got, dirs) {
		t.Fatalf("the tour runs %q; cmd/examples holds %q (add the new one to examples.go)", got, dirs)
	}
}

// TestRmOtherVersion: a segment of another build's layout version is never
// collected by gc (its creator cannot be judged) but goes when named to rm
// (it was refused, and stayed in /dev/shm for good); gc over a directory it
// cannot list says why.
func TestRmOtherVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := shm.Create("old", 4096, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(filepath.Join(dir, "old"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1, 0}, 8); err != nil { // layout version 1, a build before this one
		t.Fatal(err)
	}
	f.Close()
	code, out, _ := shmkit("gc", "--dir", dir)
	if code != exitOK || strings.Contains(out, "removed old") {
		t.Fatalf("gc: exit %d, %s", code, out)
	}
	code, out, errOut := shmkit("rm", "--dir", dir, "old")
	if code != exitOK {
		t.Fatalf("rm of another build's segment: exit %d, %s%s", code, out, errOut)
	}
	mustContain(t, "rm", out, "removed old")
	code, _, errOut = shmkit("gc", "--dir", filepath.Join(dir, "nonexistent"))
	if code == exitOK || !strings.Contains(errOut, "no such file") {
		t.Fatalf("gc of a missing directory: exit %d, %q", code, errOut)
	}
}

// TestStatFifo: anyone may make a FIFO in /dev/shm under a segment's name.
// stat opens segments read-only, and a read-only open of a FIFO waits for
// a writer: stat must say the file is not a segment, not hang.
func TestStatFifo(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	type result struct {
		code      int
		out, eout string
	}
	done := make(chan result, 1)
	go func() {
		code, out, eout := shmkit("stat", "--dir", dir, "fifo")
		done <- result{code, out, eout}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		// Still blocked in open: be its writer, so that it returns.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		r = <-done
		t.Fatalf("stat of a FIFO blocked in open until a writer came (then exit %d: %s)", r.code, r.eout)
	}
	if r.code != exitFail || !strings.Contains(r.eout, "not a regular file") {
		t.Fatalf("stat of a FIFO: exit %d, stderr %q; want exit %d saying it is not a regular file", r.code, r.eout, exitFail)
	}
}

// TestRmNoPermission: a user who may not open another user's segment is
// told so by rm, not that the segment is no shmkit segment.
func TestRmNoPermission(t *testing.T) {
	if dir, ok := os.LookupEnv("SHMKIT_TEST_RM_NOPERM"); ok {
		if err := syscall.Setgid(65534); err != nil {
			t.Skip(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Skip(err)
		}
		code, _, errOut := shmkit("rm", "--dir", dir, "rootseg")
		fmt.Printf("RESULT %d %q\n", code, errOut)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to make a segment another user may not open")
	}
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil { // t.TempDir's own, 0700
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil { // as /dev/shm
		t.Fatal(err)
	}
	seg, err := shm.Create("rootseg", 4096, shm.WithDir(dir)) // mode 0600
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRmNoPermission$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SHMKIT_TEST_RM_NOPERM="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var code int
	var errOut string
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "RESULT %d %q", &code, &errOut); err == nil {
			break
		}
	}
	if errOut == "" {
		t.Skipf("child said nothing:\n%s", out)
	}
	if code != exitFail || !strings.Contains(errOut, "permission denied") || strings.Contains(errOut, "not a shmkit segment") {
		t.Fatalf("rm of a segment this user may not open: exit %d, %q; want exit %d saying permission denied", code, errOut, exitFail)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootseg")); err != nil {
		t.Fatalf("the segment went: %v", err)
	}
}
