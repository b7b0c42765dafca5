package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// makeSegs creates segments called names in dir and closes them.
func makeSegs(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		s, err := shm.Create(n, 4096, shm.WithDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNamesCannotForgeLines: a segment name holding a newline, a tab or
// spaces prints Go-quoted, on one line and in one column; --json gives it
// exactly.
func TestNamesCannotForgeLines(t *testing.T) {
	dir := t.TempDir()
	evil := "evil\nforged 1 segment 4.0KiB 0 1 dead 0s"
	makeSegs(t, dir, evil, "a b", "\"quoted", "plain")

	code, out, errOut := shmkit("ls", "--dir", dir)
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("ls printed %d lines for 4 segments, want 5:\n%s", len(lines), out)
	}
	mustContain(t, "ls", out, `"evil\nforged 1 segment`, `"a b"`, `"\"quoted"`, "\nplain ")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); f[len(f)-2] != "alive" {
			t.Errorf("ls line %q: the name spilled into the columns", l)
		}
	}

	code, out, errOut = shmkit("ls", "--json", "--dir", dir)
	if code != exitOK {
		t.Fatalf("ls --json: exit %d: %s", code, errOut)
	}
	var list []segmentJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	got := map[string]segmentJSON{}
	for _, s := range list {
		got[s.Name] = s
	}
	for _, n := range []string{evil, "a b", "\"quoted", "plain"} {
		s, ok := got[n]
		if !ok || s.State != "alive" || s.CreatorPID != os.Getpid() || s.Kind != "segment" || s.Size == 0 {
			t.Errorf("ls --json entry for %q: %+v (found %v)", n, s, ok)
		}
	}

	code, out, errOut = shmkit("stat", "--dir", dir, "--json", evil)
	if code != exitOK {
		t.Fatalf("stat --json: exit %d: %s", code, errOut)
	}
	var st statJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("stat --json: %v\n%s", err, out)
	}
	if st.Name != evil || st.Path != filepath.Join(dir, evil) || st.Directory == nil || st.DirCap != shm.DefaultDirCap {
		t.Errorf("stat --json: %+v", st)
	}
	code, out, _ = shmkit("stat", "--dir", dir, evil)
	if code != exitOK || strings.Contains(out, "evil\nforged") || !strings.Contains(out, `name:     "evil\nforged`) {
		t.Errorf("stat printed the name raw or not at all (exit %d):\n%s", code, out)
	}
	code, out, _ = shmkit("rm", "--dir", dir, evil)
	if code != exitOK || out != "removed "+`"evil\nforged 1 segment 4.0KiB 0 1 dead 0s"`+"\n" {
		t.Errorf("rm: exit %d: %q", code, out)
	}
}

// TestFlagsAnywhere: flags may follow names, and "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	makeSegs(t, dir, "one", "two", "--dashed", "-")

	if code, out, errOut := shmkit("stat", "one", "--dir", dir); code != exitOK || !strings.Contains(out, "name:     one") {
		t.Errorf("stat NAME --dir: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := shmkit("ls", "--json", "--dir="+dir); code != exitOK || !strings.Contains(out, `"--dashed"`) {
		t.Errorf("ls --json --dir=: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := shmkit("gc", "--dir", dir, "--dry-run"); code != exitOK || !strings.Contains(out, "nothing to collect") {
		t.Errorf("gc --dir --dry-run: exit %d: %s%s", code, out, errOut)
	}
	// rm NAME --dir X: --dir is a flag, not a name.
	code, out, errOut := shmkit("rm", "one", "--dir", dir, "two")
	if code != exitOK || out != "removed one\nremoved two\n" {
		t.Fatalf("rm NAME --dir DIR NAME: exit %d: %q %s", code, out, errOut)
	}
	// After "--", a name may look like a flag; "-" is a name anywhere.
	code, out, errOut = shmkit("rm", "--dir", dir, "-", "--", "--dashed")
	if code != exitOK || out != "removed -\nremoved --dashed\n" {
		t.Fatalf("rm --dir DIR - -- --dashed: exit %d: %q %s", code, out, errOut)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in %s: %v", dir, ents)
	}
	// An unknown flag after a name is still bad usage.
	if code, _, errOut := shmkit("rm", "one", "--force", "--dir", dir); code != exitUsage || !strings.Contains(errOut, "force") {
		t.Errorf("rm NAME --force: exit %d: %s", code, errOut)
	}
}

// TestGcOtherNamespace: a segment whose header names another PID namespace
// is shown as other-ns and left alone by gc, which says why. The header is
// forged at the offsets docs/shm.md gives: creatorStart at 40, creatorNS at
// 56 (a start time no process here has, so that judged by PID the creator
// would be dead).
func TestGcOtherNamespace(t *testing.T) {
	dir := t.TempDir()
	makeSegs(t, dir, "elsewhere")
	in, err := shm.Stat("elsewhere", shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "elsewhere"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := f.WriteAt(binary.LittleEndian.AppendUint64(nil, in.CreatorStart+1), 40)
	_, err2 := f.WriteAt(binary.LittleEndian.AppendUint64(nil, in.CreatorNS+1), 56)
	f.Close()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}

	code, out, _ := shmkit("ls", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "other-ns") {
		t.Errorf("ls: exit %d, no other-ns state:\n%s", code, out)
	}
	for _, args := range [][]string{{"gc", "--dry-run", "--dir", dir}, {"gc", "--dir", dir}} {
		code, out, _ := shmkit(args...)
		if code != exitOK || !strings.Contains(out, "left elsewhere alone: creator pid") || !strings.Contains(out, "another PID namespace") {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); err != nil {
		t.Fatalf("gc removed a segment of another namespace: %v", err)
	}
}
