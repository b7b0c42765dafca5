package value_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

// forge writes a seqlock word and a lock word into the Value called name
// through the segment's file, as a buggy or hostile peer would.
func forge(t *testing.T, seg *shm.Segment, name string, seq uint64, lock uint32) {
	t.Helper()
	for _, o := range seg.Objects() {
		if o.Name == name {
			f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			body := o.Offset + shm.ObjectHeaderSize
			if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, seq), body+cell.OffSeq); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, lock), body+cell.OffLock); err != nil { // the Mutex's state word
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no object %q", name)
}

// notRecoverable is a Mutex state word that says "not recoverable".
const notRecoverable = 1<<30 - 1

// TestCorruptLockNotRecoverable: a Value whose seqlock is odd and whose
// lock says "not recoverable" (written by nobody but a broken peer) makes
// no call panic or wait; the forms with an error say ErrNotRecoverable.
func TestCorruptLockNotRecoverable(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create(seg, "v", wideOf(7))
	if err != nil {
		t.Fatal(err)
	}
	forge(t, seg, "v", 3, notRecoverable)
	if got := v.Load(); got != wideOf(7) {
		t.Fatalf("Load = %v, want the value as it stands", got.F)
	}
	var w wide
	v.LoadInto(&w)
	if w != wideOf(7) {
		t.Fatalf("LoadInto = %v, want the value as it stands", w.F)
	}
	v.Store(wideOf(8)) // stores nothing, does not panic
	v.Update(func(p *wide) { *p = wideOf(9) })
	v.Lock()
	//lint:ignore SA2001 taking and giving back the lock is the test
	v.Unlock()
	if got := v.Load(); got != wideOf(7) {
		t.Fatalf("after Store and Update on a lock that is not recoverable, Load = %v", got.F)
	}
	ctx := context.Background()
	if _, err := v.LoadContext(ctx); !errors.Is(err, value.ErrNotRecoverable) {
		t.Fatalf("LoadContext: %v, want ErrNotRecoverable", err)
	}
	if err := v.StoreContext(ctx, wideOf(8)); !errors.Is(err, value.ErrNotRecoverable) {
		t.Fatalf("StoreContext: %v, want ErrNotRecoverable", err)
	}
	if _, err := v.UpdateContext(ctx, func(*wide) {}); !errors.Is(err, value.ErrNotRecoverable) {
		t.Fatalf("UpdateContext: %v, want ErrNotRecoverable", err)
	}
	if err := v.LockContext(ctx); !errors.Is(err, value.ErrNotRecoverable) {
		t.Fatalf("LockContext: %v, want ErrNotRecoverable", err)
	}

	// The lock-free integer Value: Store takes the lock too.
	n, err := value.Create[int64](seg, "n", 5)
	if err != nil {
		t.Fatal(err)
	}
	forge(t, seg, "n", 1, notRecoverable)
	n.Store(6)
	if got := n.Load(); got != 5 {
		t.Fatalf("int64 Load = %d, want 5", got)
	}
	if err := n.StoreContext(ctx, 6); !errors.Is(err, value.ErrNotRecoverable) {
		t.Fatalf("int64 StoreContext: %v, want ErrNotRecoverable", err)
	}
}

// TestCorruptLockLiveHolder: a seqlock left odd with the lock naming a live
// process (this one, or init) is a write in progress as far as anyone can
// tell: the context forms wait for it and give up when their context ends.
func TestCorruptLockLiveHolder(t *testing.T) {
	for _, pid := range []uint32{uint32(os.Getpid()), 1} {
		seg := shmtest.Segment(t, 1<<16)
		v, err := value.Create(seg, "v", wideOf(7))
		if err != nil {
			t.Fatal(err)
		}
		forge(t, seg, "v", 5, pid)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if _, err := v.LoadContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("holder %d: LoadContext: %v, want DeadlineExceeded", pid, err)
		}
		if err := v.StoreContext(ctx, wideOf(8)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("holder %d: StoreContext: %v, want DeadlineExceeded", pid, err)
		}
		cancel()
		forge(t, seg, "v", 6, 0) // the holder lets go: both work again
		if got, err := v.LoadContext(context.Background()); err != nil || got != wideOf(7) {
			t.Errorf("holder %d gone: LoadContext = %v, %v", pid, got.F, err)
		}
		if err := v.StoreContext(context.Background(), wideOf(8)); err != nil || v.Load() != wideOf(8) {
			t.Errorf("holder %d gone: StoreContext: %v, Load %v", pid, err, v.Load().F)
		}
	}
}

// TestCorruptCapacity: a Value whose object header announces no element
// (or several) is refused with ErrCorrupt on Open, not indexed.
func TestCorruptCapacity(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	if _, err := value.Create[int64](seg, "n", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := value.CreateRaw[int64](seg, "r", 1); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, o := range seg.Objects() {
		if _, err := f.WriteAt(make([]byte, 8), o.Offset+24); err != nil { // the object header's capacity: 0
			t.Fatal(err)
		}
	}
	if _, err := value.Open[int64](seg, "n"); !errors.Is(err, value.ErrCorrupt) {
		t.Errorf("Open of a Value of capacity 0: %v, want ErrCorrupt", err)
	}
	if _, err := value.OpenRaw[int64](seg, "r"); !errors.Is(err, value.ErrCorrupt) {
		t.Errorf("OpenRaw of a RawValue of capacity 0: %v, want ErrCorrupt", err)
	}
}
