package shm_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// forgeCreator rewrites the creator fields of the segment file at path.
func forgeCreator(t *testing.T, path string, pid int32, start, ns uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	le := binary.LittleEndian
	for _, w := range []struct {
		off int
		b   []byte
	}{
		{shm.OffCreatorPid, le.AppendUint32(nil, uint32(pid))},
		{shm.OffCreatorStart, le.AppendUint64(nil, start)},
		{shm.OffCreatorNS, le.AppendUint64(nil, ns)},
	} {
		if _, err := f.WriteAt(w.b, int64(w.off)); err != nil {
			t.Fatal(err)
		}
	}
}

// deadSegment makes a segment in dir whose creator is dead: ours, with our
// PID given another start time (a reused PID).
func deadSegment(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := shm.Create(name, 4096, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	me := procinfo.Self()
	path := filepath.Join(dir, name)
	forgeCreator(t, path, me.Pid, me.Start+1, me.NS)
	return path
}

// fsImmutable is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix lacks.
const fsImmutable = 0x10

// makeImmutable sets FS_IMMUTABLE_FL on path (chattr +i): not even root may
// unlink it then. Cleanup clears it. The test is skipped where the file
// system or the privileges refuse it.
func makeImmutable(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("cannot read inode flags of %s: %v", path, err)
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(old|fsImmutable)); err != nil {
		t.Skipf("cannot make %s immutable (chattr +i): %v", path, err)
	}
	t.Cleanup(func() {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(old&^fsImmutable)); err != nil {
			t.Errorf("clearing the immutable flag of %s: %v", path, err)
		}
	})
}

// TestCollectGoesOnPastErrors: a segment that cannot be unlinked (here an
// immutable file, as a stranger's is to a user) does not stop Collect from
// removing the others, and its failure is reported.
func TestCollectGoesOnPastErrors(t *testing.T) {
	dir := t.TempDir()
	stuck := deadSegment(t, dir, "a-stuck") // listed first: sorted by name
	free := deadSegment(t, dir, "b-free")
	makeImmutable(t, stuck)

	got, err := shm.Collect(false, shm.WithDir(dir))
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), stuck) {
		t.Errorf("Collect error = %v, want EPERM naming %s", err, stuck)
	}
	if len(got) != 2 {
		t.Fatalf("Collect reported %d segments, want 2: %+v", len(got), got)
	}
	if a := got[0]; a.Name != "a-stuck" || a.Removed || !errors.Is(a.Err, unix.EPERM) {
		t.Errorf("a-stuck: Removed %v, Err %v; want not removed, EPERM", a.Removed, a.Err)
	}
	if b := got[1]; b.Name != "b-free" || !b.Removed || b.Err != nil || !strings.Contains(b.Reason, "dead") {
		t.Errorf("b-free: Removed %v, Err %v, Reason %q; want removed", b.Removed, b.Err, b.Reason)
	}
	if _, err := os.Stat(free); !os.IsNotExist(err) {
		t.Errorf("b-free is still there after Collect: %v", err)
	}
	if _, err := os.Stat(stuck); err != nil {
		t.Errorf("a-stuck: %v", err)
	}
}

// TestCollectOtherNamespace: a segment whose creator runs in another PID
// namespace is never collected, whatever its PID names here, and Collect
// says why. One header is forged; another is made by a child in a new PID
// namespace, where it is PID 1 and has exited by the time Collect looks.
func TestCollectOtherNamespace(t *testing.T) {
	if dir, ok := shmtest.NamespaceChild(); ok {
		s, err := shm.Create("made-elsewhere", 4096, shm.WithDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		s.Close() // and exit without Unlink: a leak, seen from its namespace
		return
	}
	dir := t.TempDir()
	me := procinfo.Self()
	forged := deadSegment(t, dir, "forged-elsewhere")
	forgeCreator(t, forged, me.Pid, me.Start+1, me.NS+1) // dead, if it were ours
	deadSegment(t, dir, "mine-dead")

	check := func(name string, wantPid int) {
		t.Helper()
		in, err := shm.Stat(name, shm.WithDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		if !in.CreatorElsewhere || !in.CreatorAlive || in.CreatorNS == me.NS || in.CreatorNS == 0 || (wantPid != 0 && in.CreatorPID != wantPid) {
			t.Errorf("%s: Info says elsewhere %v, alive %v, ns %d (ours %d), pid %d", name, in.CreatorElsewhere, in.CreatorAlive, in.CreatorNS, me.NS, in.CreatorPID)
		}
	}
	check("forged-elsewhere", 0)
	names := []string{"forged-elsewhere"}
	if err := shmtest.PIDNamespaces(); err != nil {
		t.Logf("only the forged header: %v", err)
	} else {
		child := shmtest.InPIDNamespace(t, "TestCollectOtherNamespace", dir)
		if err := child.Wait(); err != nil {
			t.Fatalf("child in a PID namespace: %v", err)
		}
		check("made-elsewhere", 1)
		names = append(names, "made-elsewhere")
	}

	for _, dry := range []bool{true, false} {
		got, err := shm.Collect(dry, shm.WithDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]shm.Collected{}
		for _, c := range got {
			seen[c.Name] = c
		}
		for _, n := range names {
			c, ok := seen[n]
			if !ok || c.Removed || !strings.Contains(c.Reason, "another PID namespace") {
				t.Errorf("Collect(dry %v) on %s: reported %v, Removed %v, Reason %q", dry, n, ok, c.Removed, c.Reason)
			}
		}
		if c := seen["mine-dead"]; !c.Removed {
			t.Errorf("Collect(dry %v) did not remove mine-dead: %+v", dry, c)
		}
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}

// TestCollectSparesHeaderBeingWritten: a Collect that reads a segment's
// header while Create is still writing it leaves the segment alone. The
// magic was written first: a header read in that window had it, with the
// creator's PID still zero (a dead creator), and Collect unlinked the
// segment being made.
func TestCollectSparesHeaderBeingWritten(t *testing.T) {
	dir := t.TempDir()
	looked := false
	defer shm.SetHeaderWrite(func() {
		looked = true
		got, err := shm.Collect(false, shm.WithDir(dir))
		if err != nil || len(got) != 0 {
			t.Errorf("Collect while the header is written: %+v, %v; want nothing done", got, err)
		}
	})()
	s, err := shm.Create("new", 4096, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !looked {
		t.Fatal("Create wrote its header without calling the hook")
	}
	o, err := shm.Open("new", shm.WithDir(dir))
	if err != nil {
		t.Fatalf("the new segment does not open after the Collect: %v", err)
	}
	o.Close()
}

// TestCollectSparesReplacedName: a segment made under a dead creator's
// segment's name between Collect's read of the old header and its unlink
// is left alone, and Collect says so: it unlinked whatever had the name
// by then.
func TestCollectSparesReplacedName(t *testing.T) {
	dir := t.TempDir()
	path := deadSegment(t, dir, "reused")
	var fresh *shm.Segment
	defer shm.SetCollectUnlink(func(p string) {
		if p != path || fresh != nil {
			return
		}
		// Another process collects the dead segment and makes its own
		// under the name, just before this Collect unlinks.
		if err := os.Remove(p); err != nil {
			t.Error(err)
			return
		}
		s, err := shm.Create("reused", 4096, shm.WithDir(dir))
		if err != nil {
			t.Error(err)
			return
		}
		fresh = s
	})()
	got, err := shm.Collect(false, shm.WithDir(dir))
	if fresh == nil {
		t.Fatal("Collect did not reach the unlink of the dead segment")
	}
	defer fresh.Close()
	if err != nil {
		t.Errorf("Collect: %v", err)
	}
	if len(got) != 1 || got[0].Removed || got[0].Err != nil || !strings.Contains(got[0].Reason, "another file has taken its name") {
		t.Errorf("Collect reported %+v; want the dead segment, not removed, its name taken", got)
	}
	s, err := shm.Open("reused", shm.WithDir(dir))
	if err != nil {
		t.Fatalf("the segment made under the name is gone: %v", err)
	}
	s.Close()
}
