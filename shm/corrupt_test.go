package shm_test

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// TestAllocCorruptDirLock: a directory lock word a peer wrote does not
// make Alloc wait for ever: a word no allocator writes (PID 1, start time
// zero) is taken over, and one naming a live process that stays put gives
// ErrCorrupt.
func TestAllocCorruptDirLock(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	forge := func(w uint64) {
		t.Helper()
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, w), shm.OffDirLock); err != nil {
			t.Fatal(err)
		}
	}
	forge(1 << 32) // PID 1, start time 0
	if _, err := seg.Alloc("a", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		t.Fatalf("Alloc under a garbage lock word: %v", err)
	}
	defer shm.SetDirLockWait(100 * time.Millisecond)()
	forge(procinfo.Self().Word()) // this process, alive, holding nothing
	if _, err := seg.Alloc("b", shm.ObjectSpec{BodySize: 8}, nil); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Alloc under a lock word that stays put: %v, want ErrCorrupt", err)
	}
	forge(0)
	if _, err := seg.Alloc("b", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		t.Fatalf("Alloc once the word is free: %v", err)
	}
}

// TestAllocDirLockFreedAtCheck: a directory lock that its live holder lets
// go between an allocator's failed CAS and the allocator's check for a
// stuck holder is a free lock, taken at the next CAS. Alloc returned
// ErrCorrupt ("held by 0x0") when that happened at its first check.
func TestAllocDirLockFreedAtCheck(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	forge := func(w uint64) {
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, w), shm.OffDirLock); err != nil {
			t.Error(err)
		}
	}
	forge(procinfo.Self().Word())                    // a live holder (this process, through another mapping)
	defer shm.SetLockDirCheck(func() { forge(0) })() // it lets go just as the allocator looks
	if _, err := seg.Alloc("a", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		t.Fatalf("Alloc under a lock let go before its check: %v", err)
	}
}
