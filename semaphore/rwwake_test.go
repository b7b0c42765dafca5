package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

type rwWakeArgs struct {
	RW   *semaphore.RWMutex
	F    *flags
	Base int // this child's words: Base held, Base+1 go (1 RUnlock, 2 exit), Base+2 its count word after its Add
}

// rwReadThenGo takes a read hold, says so, waits for the go word, then
// RUnlocks, recording in Base+2 the count word its Add left (plus 1, so 0
// means "not run").
var rwReadThenGo = process.Register("sem-rw-read-then-go", func(ctx context.Context, a rwWakeArgs) error {
	if err := a.RW.RLockContext(ctx); err != nil {
		return err
	}
	c := semaphore.RWMyCount(a.RW)
	semaphore.SetRWLeaveHookForChild(func() { a.F.u32(a.Base + 2).Store(c.Load() + 1) })
	a.F.signal(a.Base, 1)
	if err := a.F.awaitChild(ctx, a.Base+1, 1); err != nil {
		return err
	}
	a.RW.RUnlock()
	// Stay until told: an exit now would send the parent SIGCHLD, whose
	// EINTR would end the writer's futex wait as a wake would.
	return a.F.awaitChild(ctx, a.Base+1, 2)
})

// parkedOn reports whether a thread of this process sits in futex(2) on w.
func parkedOn(w *atomic.Uint32) bool {
	want := fmt.Sprintf("0x%x", uintptr(unsafe.Pointer(w)))
	files, _ := filepath.Glob("/proc/self/task/*/syscall")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fs := strings.Fields(string(b))
		if len(fs) > 1 && fs[0] == "202" && fs[1] == want { // SYS_futex on amd64
			return true
		}
	}
	return false
}

func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// TestRWMutexWriterWokenByReaderOfOtherProcess: a writer waiting for the
// read holds of two other processes is woken by each one's RUnlock (the
// reader whose Add leaves the mark), not at its poll, whichever finishes
// first. The poll is made an hour, so the writer's only other way out is
// atomics' 250 ms sleep slice; the wake must come well before that.
func TestRWMutexWriterWokenByReaderOfOtherProcess(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	semaphore.SetMutexPoll(t, time.Hour)
	for trial := 0; trial < 4; trial++ {
		seg := shmtest.Segment(t, 1<<16)
		rw, _ := semaphore.CreateRWMutex(seg, "rw")
		f := newFlags(t, seg, "flags")
		ps := make([]*process.Process, 2)
		for i := range ps {
			p, err := rwReadThenGo.Start(context.Background(), rwWakeArgs{RW: rw, F: f, Base: 3 * i})
			if err != nil {
				t.Fatal(err)
			}
			ps[i] = p
			f.await(t, 3*i, 1, 10*time.Second)
		}
		// Which child has which word: slot order is claim order.
		counts := semaphore.RWReadCounts(rw)
		var words []*atomic.Uint32
		for _, c := range counts {
			if c.Load() != 0 {
				words = append(words, c)
			}
		}
		if len(words) != 2 {
			t.Fatalf("%d count words held, want 2", len(words))
		}
		done := make(chan error, 1)
		go func() { done <- rw.LockContext(context.Background()) }()
		// The writer parks on the first word that has holds (child 0's).
		until(t, "writer marks child 0's word and parks on it", func() bool {
			return words[0].Load() == semaphore.RWCountWaiter|1 && parkedOn(words[0])
		})
		first, last := 0, 1
		if trial%2 == 1 { // the other child finishes first: no wake due
			first, last = 1, 0
		}
		f.signal(3*first+1, 1)
		if first == 0 {
			// Woken by child 0, the writer must now mark child 1's word and park there.
			until(t, "writer moves to child 1's word", func() bool {
				return words[1].Load() == semaphore.RWCountWaiter|1 && parkedOn(words[1])
			})
		} else {
			f.await(t, 3*first+2, 1, 10*time.Second)
		}
		start := time.Now()
		f.signal(3*last+1, 1)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		lat := time.Since(start)
		rw.Unlock()
		f.signal(1, 2)
		f.signal(4, 2)
		waitAll(t, ps)
		if got := f.u32(3*last+2).Load() - 1; got != semaphore.RWCountWaiter {
			t.Errorf("trial %d: last reader's Add left %#x, want the bare mark %#x (so that it wakes)", trial, got, uint32(semaphore.RWCountWaiter))
		}
		if lat > 100*time.Millisecond {
			t.Errorf("trial %d: writer took %v after the last reader's RUnlock: not woken by it", trial, lat)
		}
		t.Logf("trial %d: last reader child %d, writer in %v", trial, last, lat)
		for _, c := range counts {
			if c.Load()&semaphore.RWCountWaiter != 0 {
				t.Errorf("trial %d: mark left on a count word: %#x", trial, c.Load())
			}
		}
	}
}

// TestRWMutexCorruptCountCarriesIntoMark: a read count word that a peer
// overwrote with 2^31-1 holds must not let a reader's Add carry into the
// writer's mark bit, leaving holds 0: a writer would then take the lock
// while the reader holds it. RLockContext refuses such a count
// (ErrNotRecoverable) and TryRLock fails, the word left as it was; a
// writer still waits for the holds it shows.
func TestRWMutexCorruptCountCarriesIntoMark(t *testing.T) {
	for _, garbage := range []uint32{semaphore.RWCountWaiter - 1, ^uint32(0)} {
		seg := shmtest.Segment(t, 1<<16)
		rw, err := semaphore.CreateRWMutex(seg, "rw")
		if err != nil {
			t.Fatal(err)
		}
		c := semaphore.RWMyCount(rw)
		c.Store(garbage) // a peer's garbage
		ctx := ctxFor(t, 5*time.Second)
		if err := rw.RLockContext(ctx); !errors.Is(err, semaphore.ErrNotRecoverable) {
			t.Fatalf("RLockContext over a count word of %#x: %v, want ErrNotRecoverable", garbage, err)
		}
		if rw.TryRLock() {
			t.Fatalf("TryRLock over a count word of %#x took a hold", garbage)
		}
		if got := c.Load(); got != garbage {
			t.Fatalf("count word %#x after the refusals, want %#x as it was", got, garbage)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if err := rw.LockContext(short); err == nil {
			t.Errorf("a writer took the lock over a count word of %#x holds", garbage)
			rw.Unlock()
		}
		cancel()
	}
}
