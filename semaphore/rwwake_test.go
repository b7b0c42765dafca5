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

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/internal/sleepslice"
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
// means "not run") and waking the test, which may wait for it.
var rwReadThenGo = process.Register("sem-rw-read-then-go", func(ctx context.Context, a rwWakeArgs) error {
	if err := a.RW.RLockContext(ctx); err != nil {
		return err
	}
	c := semaphore.RWMyCount(a.RW)
	semaphore.SetRWLeaveHookForChild(func() { a.F.signal(a.Base+2, c.Load()+1) })
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
// first. The poll and atomics' sleep slice are made an hour, and the
// writer's context has no deadline (a context that can end makes its first
// sleep a millisecond long), so that the wake is its only way out: a lost
// one hangs it, which the test reports after a wait that no loaded machine
// comes near when the wake comes.
func TestRWMutexWriterWokenByReaderOfOtherProcess(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads futex(2) arguments from /proc as amd64 numbers them")
	}
	semaphore.SetMutexPoll(t, time.Hour)
	t.Cleanup(sleepslice.Set(time.Hour))
	patience := shmtest.Timeout(t, 30*time.Second)
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
		done, out := make(chan error, 1), make(chan struct{})
		go func() {
			done <- rw.LockContext(context.Background())
			close(out)
		}()
		// Whatever fails leaves the writer asleep with nothing to wake it:
		// before the segment's unmap, the readers let go and the writer is
		// woken until it is out (it may be between a look and its sleep).
		t.Cleanup(func() {
			f.signal(1, 2)
			f.signal(4, 2)
			for {
				select {
				case <-out:
					return
				case <-time.After(time.Millisecond):
					for _, c := range counts {
						atomics.Wake(c, -1)
					}
				}
			}
		})
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
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(patience):
			t.Fatalf("trial %d: writer still waiting %v after the last reader's RUnlock (last word %#x): not woken by it", trial, patience, words[last].Load())
		}
		lat := time.Since(start)
		rw.Unlock()
		f.signal(1, 2)
		f.signal(4, 2)
		waitAll(t, ps)
		if got := f.u32(3*last+2).Load() - 1; got != semaphore.RWCountWaiter {
			t.Errorf("trial %d: last reader's Add left %#x, want the bare mark %#x (so that it wakes)", trial, got, uint32(semaphore.RWCountWaiter))
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

// rwLeaveKilled takes the write lock and releases it, stopping, to be
// killed, between its release of the writer Mutex and of wstate, once it
// has said so in word 0.
var rwLeaveKilled = process.Register("sem-rw-leave-killed", func(ctx context.Context, a rwArgs) error {
	if err := a.RW.LockContext(ctx); err != nil {
		return err
	}
	semaphore.SetRWMarkGapHookForChild(func() {
		a.F.signal(0, 1)
		select {}
	})
	a.RW.Unlock()
	return errors.New("Unlock returned: the hook never ran")
})

// TestRWMutexWriterKilledBetweenReleases: a writer releases the writer
// Mutex before it clears its mark on wstate (the mark's Swap must be its
// last access), so a writer can die between the two, its work done, the
// Mutex free and its mark left. While it lives, neither a reader nor the
// next writer may go past the mark; once it is killed, both must (found
// at their liveness poll, a writer from its mark's owner word), without
// ErrOwnerDead: whether they came before the kill (parked on the mark)
// or after.
func TestRWMutexWriterKilledBetweenReleases(t *testing.T) {
	for _, tc := range []struct {
		name         string
		write, early bool
	}{
		{"reader-after", false, false},
		{"writer-after", true, false},
		{"reader-waiting", false, true},
		{"writer-waiting", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) { rwWriterKilledBetweenReleases(t, tc.write, tc.early) })
	}
}

func rwWriterKilledBetweenReleases(t *testing.T, write, early bool) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	p, err := rwLeaveKilled.Start(context.Background(), rwArgs{RW: rw, F: f})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Kill()
	f.await(t, 0, 1, 10*time.Second)
	wstate := semaphore.RWWState(rw)
	if h := semaphore.RWMutexWriter(rw).Owner(); h.Pid != 0 || wstate.Load()&semaphore.RWWriter == 0 {
		t.Fatalf("the leaving writer stopped with the writer Mutex held by %d, wstate %#x: not between its releases", h.Pid, wstate.Load())
	}
	if rw.TryRLock() {
		rw.RUnlock()
		t.Fatal("TryRLock got in past the mark of a writer that is leaving")
	}
	ctx := ctxFor(t, recoverWithin)
	lock, unlock := rw.RLockContext, rw.RUnlock
	if write {
		lock, unlock = rw.LockContext, rw.Unlock
	}
	done := make(chan error, 1)
	if early {
		go func() { done <- lock(ctx) }()
		until(t, "it parks on the leaving writer's mark", func() bool { return wstate.Load()&semaphore.RWSleeping != 0 })
		select {
		case err := <-done:
			t.Fatalf("it went past the mark of a live writer (%v)", err)
		default:
		}
	}
	p.Kill()
	p.Wait()
	start := time.Now()
	if !early {
		go func() { done <- lock(ctx) }()
	}
	if err := <-done; err != nil {
		t.Fatalf("after the leaving writer was killed: %v, want nil (its work was done)", err)
	}
	t.Logf("in %v after the kill", time.Since(start))
	unlock()
	if !rw.TryRLock() {
		t.Fatalf("TryRLock refused after the recovery (wstate %#x)", wstate.Load())
	}
	rw.RUnlock()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	rw.Unlock()
}

type rwHammerArgs struct {
	RW    *semaphore.RWMutex
	F     *flags
	Iters int
}

// rwHammer: every fourth turn writes (one in three of those with a context
// that ends after 0-63 µs), the others read. A write moves the two words
// u64(0) and u64(1) by one each, apart, and counts itself in u64(2); a
// read (or a write, before its update) that finds them unequal counts a
// breach in u32(3).
var rwHammer = process.Register("sem-rw-hammer", func(ctx context.Context, a rwHammerArgs) error {
	x, y, writes, breaches := a.F.u64(0), a.F.u64(1), a.F.u64(2), a.F.u32(3)
	a.F.u32(4).Add(1)
	if err := a.F.awaitChild(ctx, 5, 1); err != nil { // start together
		return err
	}
	for i := 0; i < a.Iters; i++ {
		if i%4 != 0 {
			if err := a.RW.RLockContext(ctx); err != nil {
				return err
			}
			if x.Load() != y.Load() {
				breaches.Add(1)
			}
			a.RW.RUnlock()
			continue
		}
		lctx, cancel := ctx, context.CancelFunc(func() {})
		if i%12 == 4 {
			lctx, cancel = context.WithTimeout(ctx, time.Duration(i%64)*time.Microsecond)
		}
		err := a.RW.LockContext(lctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue
			}
			return err
		}
		if x.Load() != y.Load() {
			breaches.Add(1)
		}
		x.Store(x.Load() + 1)
		if i%8 == 0 {
			runtime.Gosched() // a reader or writer that comes now must wait
		}
		y.Store(y.Load() + 1)
		writes.Add(1)
		a.RW.Unlock()
	}
	return nil
})

// TestRWMutexHammerProcesses: readers and writers (some giving up) of
// three processes: writers hand the lock over between processes, each
// waiting for the last one's mark to go, and readers park on the marks.
// No reader sees a write half-done, the writes are all counted, and every
// process finishes.
func TestRWMutexHammerProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, err := semaphore.CreateRWMutex(seg, "rw")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	ctx := ctxFor(t, shmtest.Timeout(t, 50*time.Second))
	const procs = 3
	var ps []*process.Process
	for i := 0; i < procs; i++ {
		p, err := rwHammer.Start(ctx, rwHammerArgs{RW: rw, F: f, Iters: shmtest.Iterations(t, 20000)})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.await(t, 4, procs, 10*time.Second)
	f.signal(5, 1)
	waitAll(t, ps)
	if b := f.u32(3).Load(); b != 0 {
		t.Errorf("%d reads or writes saw another write half-done", b)
	}
	if x, y, n := f.u64(0).Load(), f.u64(1).Load(), f.u64(2).Load(); x != n || y != n {
		t.Errorf("words %d and %d after %d writes", x, y, n)
	}
	if ws := semaphore.RWWState(rw).Load(); ws&semaphore.RWWriter != 0 {
		t.Errorf("wstate %#x once every writer is gone", ws)
	}
}
