package shm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

type openArgs struct{ Name, Dir string }

// opener opens a segment by name (not through a handle), checks the byte
// the parent wrote and answers in the next one.
var opener = process.Register("shm-test-opener", func(ctx context.Context, a openArgs) error {
	s, err := shm.Open(a.Name, shm.WithDir(a.Dir))
	if err != nil {
		return err
	}
	defer s.Close()
	b := s.Bytes()
	if b[0] != 0x5a {
		return fmt.Errorf("child sees %#x, parent wrote 0x5a", b[0])
	}
	b[1] = b[0] + 1
	return nil
})

func TestCreateOpenInChild(t *testing.T) {
	s := shmtest.Segment(t, 4096)
	s.Bytes()[0] = 0x5a
	if err := opener.Run(context.Background(), openArgs{Name: s.Name(), Dir: shm.DefaultDir}); err != nil {
		t.Fatal(err)
	}
	if got := s.Bytes()[1]; got != 0x5b {
		t.Fatalf("parent sees %#x, child wrote 0x5b", got)
	}
}

type segArgs struct {
	Seg *shm.Segment
	Obj string
}

// handleUser receives the segment as a *shm.Segment inside its arguments
// (named or anonymous), finds the parent's object and doubles its bytes.
var handleUser = process.Register("shm-test-handle-user", func(ctx context.Context, a segArgs) error {
	defer a.Seg.Close()
	o, err := a.Seg.Lookup(a.Obj, &shm.ObjectSpec{Kind: shm.KindBytes})
	if err != nil {
		return err
	}
	for i := range o.Body {
		o.Body[i] *= 2
	}
	return nil
})

func TestSegmentToChild(t *testing.T) {
	anon, err := shm.CreateAnon(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	for name, s := range map[string]*shm.Segment{"named": shmtest.Segment(t, 4096), "anon": anon} {
		t.Run(name, func(t *testing.T) {
			o, err := s.Alloc("data", shm.ObjectSpec{BodySize: 8}, func(body []byte) error {
				copy(body, []byte{1, 2, 3, 4, 5, 6, 7, 8})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := handleUser.Run(context.Background(), segArgs{Seg: s, Obj: "data"}); err != nil {
				t.Fatal(err)
			}
			if want := []byte{2, 4, 6, 8, 10, 12, 14, 16}; !bytes.Equal(o.Body, want) {
				t.Fatalf("parent sees %v, child wrote %v", o.Body, want)
			}
		})
	}
	if anon.Name() != "" || anon.Unlink() != nil {
		t.Fatal("an anonymous segment has a name to unlink")
	}
	// Its size is sealed: a process that holds it cannot cut the others'
	// mappings short (they would fault past the new end).
	f := shm.File(anon)
	for _, size := range []int64{0, 1 << 30} {
		if err := f.Truncate(size); !errors.Is(err, syscall.EPERM) {
			t.Errorf("truncating an anonymous segment's file to %d bytes: %v, want EPERM", size, err)
		}
	}
}

func TestBadNames(t *testing.T) {
	bad := []string{"", ".", "..", "../x", "a/b", "/abs", "x/..", "a..b", "nul\x00byte", strings.Repeat("n", shm.MaxNameLen+1)}
	for _, name := range bad {
		if err := shm.ValidateName(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
		if s, err := shm.Create(name, 64); !errors.Is(err, shm.ErrInvalidName) {
			if s != nil {
				s.Unlink()
			}
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := shm.Open(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Open(%q) = %v, want ErrInvalidName", name, err)
		}
		if err := shm.Unlink(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Unlink(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := shm.Stat(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	// The longest valid name works.
	long := shmtest.Name(t) + "-"
	long += strings.Repeat("x", shm.MaxNameLen-len(long))
	s, err := shm.Create(long, 64)
	if err != nil {
		t.Fatalf("Create of a %d-byte name: %v", len(long), err)
	}
	s.Close()
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	// Object names too.
	seg := shmtest.Segment(t, 4096)
	for _, name := range []string{"", "a\x00b", strings.Repeat("o", shm.MaxObjectName+1)} {
		if _, err := seg.Alloc(name, shm.ObjectSpec{}, nil); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Alloc(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestCreateExisting(t *testing.T) {
	s := shmtest.Segment(t, 64)
	_, err := shm.Create(s.Name(), 64)
	if !errors.Is(err, shm.ErrExist) || !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second Create = %v, want ErrExist wrapping EEXIST", err)
	}
	if _, err := shm.Open(shmtest.Name(t)); !errors.Is(err, shm.ErrNotExist) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing segment = %v, want ErrNotExist", err)
	}
	if err := shm.Unlink(shmtest.Name(t)); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Unlink of a missing segment = %v, want ErrNotExist", err)
	}
}

func TestCreateDefaults(t *testing.T) {
	s := shmtest.Segment(t, 1000)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if s.Size() < 1000 || fi.Size()%shm.PageSize != 0 || int64(len(s.Bytes())) != s.Size() {
		t.Errorf("size %d (file %d, Bytes %d) for 1000 asked", s.Size(), fi.Size(), len(s.Bytes()))
	}
	// fallocate reserved every page: the file has no holes.
	var st unix.Stat_t
	if err := unix.Stat(s.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 < fi.Size() {
		t.Errorf("%d bytes allocated for a %d-byte file: pages not reserved", st.Blocks*512, fi.Size())
	}
	w := shmtest.Segment(t, 64, shm.WithMode(0o640))
	if fi, err := os.Stat(w.Path()); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("WithMode(0640): %v, %v", fi.Mode().Perm(), err)
	}
}

// TestHeaderBytes reads a fresh segment's header at the documented offsets.
func TestHeaderBytes(t *testing.T) {
	s := shmtest.Segment(t, 4096)
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if string(raw[shm.OffMagic:shm.OffMagic+8]) != "SHMKITSG" {
		t.Errorf("magic %q", raw[:8])
	}
	if v := le.Uint32(raw[shm.OffVersion:]); v != shm.SegVersion {
		t.Errorf("version %d", v)
	}
	if k := le.Uint32(raw[shm.OffKind:]); k != shm.KindSegment {
		t.Errorf("kind %d", k)
	}
	if n := le.Uint64(raw[shm.OffSize:]); n != uint64(len(raw)) {
		t.Errorf("size %d, file %d", n, len(raw))
	}
	if d := le.Uint64(raw[shm.OffDataOff:]); int64(d) != int64(len(raw))-s.Size() {
		t.Errorf("data offset %d", d)
	}
	// Directory words and the first entry, after one Alloc.
	if _, err := s.Alloc("obj", shm.ObjectSpec{Kind: shm.KindArray, Version: 2, Capacity: 3, BodySize: 24}, nil); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := le.Uint32(raw[shm.OffDirCount:]); n != 1 {
		t.Errorf("dirCount %d after one Alloc", n)
	}
	if l := le.Uint64(raw[shm.OffDirLock:]); l != 0 {
		t.Errorf("dirLock %#x after Alloc returned, want 0 (free)", l)
	}
	e := raw[shm.DirOff : shm.DirOff+shm.DirEntrySize]
	off, size := le.Uint64(e[64:]), le.Uint64(e[72:])
	if string(e[:4]) != "obj\x00" || off != uint64(len(raw))-uint64(s.Size()) || size != shm.ObjectHeaderSize+24 || le.Uint16(e[80:]) != uint16(shm.KindArray) {
		t.Errorf("entry: name %q offset %d size %d kind %d", e[:4], off, size, le.Uint16(e[80:]))
	}
	o := raw[off:]
	if string(o[:4]) != "SHMO" || le.Uint16(o[4:]) != 2 || le.Uint16(o[6:]) != uint16(shm.KindArray) || le.Uint64(o[24:]) != 3 || le.Uint64(o[32:]) != 24 {
		t.Errorf("object header % x", o[:40])
	}
	me := procinfo.Self()
	if pid, st, ns := le.Uint32(raw[shm.OffCreatorPid:]), le.Uint64(raw[shm.OffCreatorStart:]), le.Uint64(raw[shm.OffCreatorNS:]); int32(pid) != me.Pid || st != me.Start || ns != me.NS {
		t.Errorf("creator pid %d start %d ns %d, Self is %+v", pid, st, ns, me)
	}
	in := s.Info()
	if in.CreatorPID != os.Getpid() || !in.CreatorAlive || in.CreatorElsewhere || in.CreatorNS != me.NS || in.DirCap != shm.DefaultDirCap || in.Version != shm.SegVersion {
		t.Errorf("Info %+v", in)
	}
}

// TestOpenRefusesBadFiles writes broken segment files and checks that Open
// refuses each with the matching error, never mapping garbage.
func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := shm.Create("good", 4096, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	good.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "good"))
	if err != nil {
		t.Fatal(err)
	}
	patch := func(off int, b []byte) []byte {
		c := bytes.Clone(raw)
		copy(c[off:], b)
		return c
	}
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cases := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"empty", nil, shm.ErrCorrupt, "shorter than"},
		{"too-small", raw[:50], shm.ErrCorrupt, "shorter than"},
		{"truncated", raw[:len(raw)-4096], shm.ErrCorrupt, "truncated"},
		{"grown", append(bytes.Clone(raw), make([]byte, 4096)...), shm.ErrCorrupt, "file has"},
		{"wrong-magic", patch(shm.OffMagic, []byte("NOTSHMKT")), shm.ErrIncompatible, "magic"},
		{"wrong-version", patch(shm.OffVersion, u32(shm.SegVersion+1)), shm.ErrIncompatible, "version"},
		{"wrong-kind", patch(shm.OffKind, u32(7)), shm.ErrIncompatible, "kind"},
		{"dircap-zero", patch(shm.OffDirCap, u32(0)), shm.ErrCorrupt, "directory capacity"},
		{"dircap-huge", patch(shm.OffDirCap, u32(1<<30)), shm.ErrCorrupt, "directory capacity"},
		{"dataoff-past-end", patch(shm.OffDataOff, u64(1<<40)), shm.ErrCorrupt, "data offset"},
		{"dataoff-in-directory", patch(shm.OffDataOff, u64(shm.HeaderSize)), shm.ErrCorrupt, "data offset"},
		{"size-huge", patch(shm.OffSize, u64(1<<62)), shm.ErrCorrupt, "file has"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, tc.name), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := shm.Open(tc.name, shm.WithDir(dir))
			if s != nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Open = %v, want %v saying %q", err, tc.want, tc.says)
			}
			// Stat, ls and gc see the same.
			if _, err := shm.Stat(tc.name, shm.WithDir(dir)); err == nil {
				t.Fatalf("Stat accepted the file")
			}
		})
	}
	// A directory or a symbolic link is never opened.
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open("adir", shm.WithDir(dir)); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
	if err := os.Symlink(filepath.Join(dir, "good"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open("link", shm.WithDir(dir)); !errors.Is(err, shm.ErrInvalidName) {
		t.Fatalf("Open of a symbolic link = %v, want ErrInvalidName (O_NOFOLLOW)", err)
	}
	if _, err := shm.Create("link", 64, shm.WithDir(dir)); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("Create over a symbolic link = %v, want ErrExist", err)
	}
	if s, err := shm.Open("good", shm.WithDir(dir)); err != nil {
		t.Fatalf("the good file does not open: %v", err)
	} else {
		s.Close()
	}
}

// TestNoSpace fills a 1 MiB tmpfs: Create must fail with ErrNoSpace at
// create time and leave no file behind.
func TestNoSpace(t *testing.T) {
	if _, err := shm.Create(shmtest.Name(t), 1<<50); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Create of 1 PiB = %v, want ErrNoSpace", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; the full-/dev/shm case is not tested")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the full-/dev/shm case is not tested", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the test tmpfs at %s: %v", dir, err)
		}
	})
	small, err := shm.Create("small", 256<<10, shm.WithDir(dir))
	if err != nil {
		t.Fatalf("Create of 256 KiB in 1 MiB: %v", err)
	}
	defer small.Close()
	_, err = shm.Create("big", 1<<20, shm.WithDir(dir))
	if !errors.Is(err, shm.ErrNoSpace) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Create of 1 MiB in what is left = %v, want ErrNoSpace wrapping ENOSPC", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "big")); !os.IsNotExist(err) {
		t.Fatalf("the failed Create left its file: %v", err)
	}
	// The segment that fitted is fully usable: no SIGBUS on its last page.
	b := small.Bytes()
	b[len(b)-1] = 1
	if _, err := shm.CreateAnon(1 << 50); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("CreateAnon of 1 PiB = %v, want ErrNoSpace", err)
	}
}
