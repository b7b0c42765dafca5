package array_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// forge writes a seqlock word and a lock word into the Array called name
// through the segment's file, as a buggy or hostile peer would.
func forge(t *testing.T, seg *shm.Segment, name string, seq uint64, lock uint32) {
	t.Helper()
	for _, o := range seg.Objects() {
		if o.Name != name {
			continue
		}
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
	t.Fatalf("no object %q", name)
}

const notRecoverable = 1<<30 - 1 // a Mutex state word: not recoverable

// TestCorruptLockNotRecoverable: an Array whose seqlock is odd and whose
// lock says "not recoverable" makes no call panic or wait; the forms with
// an error say ErrNotRecoverable.
func TestCorruptLockNotRecoverable(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.CreateFrom(seg, "a", []int32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	forge(t, seg, "a", 3, notRecoverable)
	if got := a.At(1); got != 2 {
		t.Fatalf("At(1) = %d, want 2", got)
	}
	dst := make([]int32, 3)
	if n := a.CopyTo(dst); n != 3 || dst[2] != 3 {
		t.Fatalf("CopyTo = %d, %v", n, dst)
	}
	for i, x := range a.All() {
		if x != int32(i+1) {
			t.Fatalf("All: [%d] = %d", i, x)
		}
	}
	a.Set(0, 9)
	if n := a.CopyFrom([]int32{9, 9}); n != 0 {
		t.Fatalf("CopyFrom on a lock that is not recoverable copied %d", n)
	}
	a.With(func([]int32) { t.Fatal("With called fn on a lock that is not recoverable") })
	a.Lock()
	//lint:ignore SA2001 taking and giving back the lock is the test
	a.Unlock()
	if got := a.At(0); got != 1 {
		t.Fatalf("after writes on a lock that is not recoverable, At(0) = %d", got)
	}
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, array.ErrNotRecoverable) {
			t.Errorf("%s: %v, want ErrNotRecoverable", what, err)
		}
	}
	_, err = a.AtContext(ctx, 0)
	check("AtContext", err)
	check("SetContext", a.SetContext(ctx, 0, 9))
	_, err = a.CopyToContext(ctx, dst)
	check("CopyToContext", err)
	_, err = a.CopyFromContext(ctx, dst)
	check("CopyFromContext", err)
	check("WithContext", a.WithContext(ctx, func([]int32) {}))
	check("LockContext", a.LockContext(ctx))
	_, err = a.ReadAt(make([]byte, 4), 0)
	check("ReadAt", err)
	_, err = a.WriteAt(make([]byte, 4), 0)
	check("WriteAt", err)
}

// TestCorruptLockLiveHolder: a seqlock left odd with the lock naming a live
// process is a write in progress: the context forms wait for it and give
// up when their context ends.
func TestCorruptLockLiveHolder(t *testing.T) {
	for _, pid := range []uint32{uint32(os.Getpid()), 1} {
		seg := shmtest.Segment(t, 1<<16)
		a, err := array.CreateFrom(seg, "a", []int32{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		forge(t, seg, "a", 5, pid)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("holder %d: %s: %v, want DeadlineExceeded", pid, what, err)
			}
		}
		_, err = a.AtContext(ctx, 0)
		check("AtContext", err)
		_, err = a.CopyToContext(ctx, make([]int32, 3))
		check("CopyToContext", err)
		check("SetContext", a.SetContext(ctx, 0, 9))
		_, err = a.CopyFromContext(ctx, []int32{9})
		check("CopyFromContext", err)
		cancel()
		forge(t, seg, "a", 6, 0) // the holder lets go
		if err := a.SetContext(context.Background(), 0, 9); err != nil {
			t.Fatal(err)
		}
		if got, err := a.AtContext(context.Background(), 0); err != nil || got != 9 {
			t.Errorf("holder %d gone: AtContext = %d, %v", pid, got, err)
		}
	}
}
