package semaphore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// TestMutexOtherNamespace: a Mutex held by a live process in another PID
// namespace is not taken over. The holder is PID 1 in its namespace, a PID
// that names another, older process here: judged by PID, it would look
// dead (another start time) and its lock would be held twice.
func TestMutexOtherNamespace(t *testing.T) {
	if name, ok := shmtest.NamespaceChild(); ok {
		mutexHolderInNamespace(t, name)
		return
	}
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	child := shmtest.InPIDNamespace(t, "TestMutexOtherNamespace", seg.Name())
	f.await(t, 0, 1, 20*time.Second) // the child holds m

	// Several liveness polls (mutexPoll) fit in the deadline: each must
	// find the holder alive.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = m.LockContext(ctx)
	if err == nil || errors.Is(err, semaphore.ErrOwnerDead) {
		m.Unlock()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock of a Mutex held in another PID namespace = %v, want %v (holder %v)", err, context.DeadlineExceeded, m.Owner())
	}
	if ok, err := m.TryLock(); ok || err != nil {
		if ok {
			m.Unlock()
		}
		t.Errorf("TryLock of a Mutex held in another PID namespace = %v, %v, want false, nil", ok, err)
	}
	f.signal(1, 1) // let the child unlock
	if err := child.Wait(); err != nil {
		t.Fatalf("child in its PID namespace: %v", err)
	}
	if err := m.LockContext(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("Lock after the holder unlocked: %v", err)
	}
	m.Unlock()
}

// mutexHolderInNamespace is the child of TestMutexOtherNamespace: it locks
// the Mutex, says so in flag 0, and unlocks it once flag 1 is set.
func mutexHolderInNamespace(t *testing.T, name string) {
	seg, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	m, err := semaphore.OpenMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 30*time.Second)
	if err := m.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	f := &flags{Seg: seg, Name: "flags"}
	f.signal(0, 1)
	err = f.awaitChild(ctx, 1, 1)
	m.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlySegmentRefused: a lock writes its words, so it cannot be
// opened on a segment attached with shm.ReadOnly: an error, not a fault.
func TestReadOnlySegmentRefused(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	if _, err := semaphore.CreateMutex(seg, "m"); err != nil {
		t.Fatal(err)
	}
	ro, err := shm.Open(seg.Name(), shm.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := semaphore.OpenMutex(ro, "m"); !errors.Is(err, shm.ErrReadOnly) {
		t.Fatalf("OpenMutex on a read-only segment = %v, want shm.ErrReadOnly", err)
	}
	if _, err := semaphore.CreateMutex(ro, "m2"); !errors.Is(err, shm.ErrReadOnly) {
		t.Fatalf("CreateMutex on a read-only segment = %v, want shm.ErrReadOnly", err)
	}
}
