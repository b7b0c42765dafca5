package shm_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// dirLockForger returns a function that writes a word into seg's directory
// lock through a file descriptor of its own, as a peer would. It reports a
// failed write with t.Error: a hook inside Alloc calls it too.
func dirLockForger(t *testing.T, seg *shm.Segment) func(w uint64) {
	t.Helper()
	f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func(w uint64) {
		t.Helper()
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, w), shm.OffDirLock); err != nil {
			t.Error(err)
		}
	}
}

// TestAllocCorruptDirLock: a directory lock word a peer wrote does not
// make Alloc wait for ever: a word no allocator writes (PID 1, start time
// zero) is taken over, and one naming a live process that stays put gives
// ErrCorrupt.
func TestAllocCorruptDirLock(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	forge := dirLockForger(t, seg)
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
	forge := dirLockForger(t, seg)
	forge(procinfo.Self().Word())                    // a live holder (this process, through another mapping)
	defer shm.SetLockDirCheck(func() { forge(0) })() // it lets go just as the allocator looks
	if _, err := seg.Alloc("a", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		t.Fatalf("Alloc under a lock let go before its check: %v", err)
	}
}

// TestAllocDirLockBusyPeer: an allocator that waits while a live peer
// takes the directory lock again and again, so that the lock word is the
// peer's at each of the allocator's checks, is not judged stuck: the lock
// passes. It gave ErrCorrupt once the word had looked the same for
// dirLockWait, though nothing was wrong. The peer (another mapping in this
// process, so the same lock word) holds the lock inside init, and the
// check hook has it let go and take the lock again between any two
// checks; every other Alloc of the peer fails in init, holding the lock
// but publishing nothing.
func TestAllocDirLockBusyPeer(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	peer, err := shm.Open(seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	defer shm.SetDirLockWait(time.Nanosecond)() // any wait on an unchanged word is too long
	refused := errors.New("refused")
	holding := make(chan struct{})
	again := make(chan bool)      // the peer lets go; true: it takes the lock again
	failed := make(chan struct{}) // the peer's Alloc failed: it holds nothing, and is gone
	done := shmtest.Go(t, func() {
		for i := 0; ; i++ {
			more := false
			_, err := peer.Alloc(fmt.Sprintf("peer-%d", i), shm.ObjectSpec{BodySize: 8}, func([]byte) error {
				holding <- struct{}{}
				more = <-again
				if i%2 == 1 {
					return refused
				}
				return nil
			})
			if err != nil && !errors.Is(err, refused) {
				t.Errorf("peer's Alloc %d: %v", i, err)
				close(failed)
				return
			}
			if !more {
				return
			}
		}
	})
	hold := func() { // waits until the peer holds the lock
		select {
		case <-holding:
		case <-failed:
		}
	}
	stopped := false
	stop := func() { // the peer lets go for good
		if !stopped {
			stopped = true
			select {
			case again <- false:
			case <-failed:
			}
			<-done
		}
	}
	defer stop()
	hold()
	const rounds = 8
	checks := 0
	defer shm.SetLockDirCheck(func() {
		if checks++; checks < rounds {
			select {
			case again <- true: // the peer lets go and takes the lock again
				hold()
			case <-failed:
			}
		} else {
			stop()
		}
	})()
	_, err = seg.Alloc("waiter", shm.ObjectSpec{BodySize: 8}, nil)
	stop()
	if err != nil {
		t.Fatalf("Alloc behind a peer that takes the lock again and again (check %d): %v", checks, err)
	}
	if checks < rounds {
		t.Fatalf("Alloc took the lock after %d checks, while the peer held it until check %d", checks, rounds)
	}
}
