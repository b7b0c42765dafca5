package semaphore_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// tryLockWithin polls TryLock on a free m until it succeeds or d has passed.
func tryLockWithin(t *testing.T, m *semaphore.Mutex, d time.Duration) bool {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); runtime.Gosched() {
		ok, err := m.TryLock()
		if err != nil {
			t.Fatalf("TryLock: %v", err)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestMutexTryLockStaleWant: a want word that names a process nobody can
// judge dead (a process of another PID namespace, or garbage a peer wrote
// that reads as one) and that never comes must not keep a free Mutex from
// a TryLock poller for ever: Lock clears such a word after
// mutexWantPatience (10 ms), TryLock must give up on it too. The poll
// lasts 200 times that bound.
func TestMutexTryLockStaleWant(t *testing.T) {
	me := procinfo.Self()
	for name, w := range map[string]uint64{
		"another namespace": procinfo.Ident{Pid: 1234, Start: 5678, NS: me.NS + 1}.Word(),
		"garbage":           0x7fff_ffff_ffff_fff0,
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
			semaphore.MutexWant(m).Store(w)
			if !tryLockWithin(t, m, shmtest.Timeout(t, 2*time.Second)) {
				t.Fatalf("TryLock never took a free Mutex whose want word %#x nobody acts on (Lock clears it in 10 ms)", w)
			}
			m.Unlock()
		})
	}
}

// wantLockOnce locks M (flag 0 says it is about to), unlocks and returns.
var wantLockOnce = process.Register("sem-rev-want-lockonce", func(ctx context.Context, a counterArgs) error {
	a.F.u32(0).Store(1)
	if err := a.M.LockContext(ctx); err != nil {
		return err
	}
	a.M.Unlock()
	return nil
})

// TestMutexTryLockStoppedWaiter: a starving waiter whose process is then
// stopped (SIGSTOP: a debugger, ^Z, a frozen cgroup) names a live process
// that will not come: other processes' TryLock must take the free Mutex
// within a bounded time, as their Lock does.
func TestMutexTryLockStoppedWaiter(t *testing.T) {
	m, f := sharedMutex(t)
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	m.Lock()
	p, err := wantLockOnce.Start(ctx, counterArgs{M: m, F: f})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Signal(syscall.SIGCONT)
		p.Kill()
		p.Wait()
	}()
	want := semaphore.MutexWant(m)
	for want.Load() == 0 { // the child has waited its millisecond and asks
		if ctx.Err() != nil {
			t.Fatal("the child never named its process in the want word")
		}
		runtime.Gosched()
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Stopped for sure once /proc says so.
	for procState(t, p.Pid()) != 'T' {
		if ctx.Err() != nil {
			t.Fatal("the child never stopped")
		}
		runtime.Gosched()
	}
	m.Unlock()
	if !tryLockWithin(t, m, shmtest.Timeout(t, 2*time.Second)) {
		t.Fatalf("TryLock never took a free Mutex left to a stopped process (want %#x)", want.Load())
	}
	m.Unlock()
}

// procState returns the state letter of process pid from /proc.
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields follow the last ')' (the command name may hold any byte).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return b[i+2]
}

// TestMutexStarvingWaiterKilled: a starving waiter SIGKILLed after it named
// its process in the want word leaves nothing owed: once the lock is
// free, TryLock takes it (the dead process's word is cleared), and so
// does LockContext.
func TestMutexStarvingWaiterKilled(t *testing.T) {
	for _, try := range []bool{true, false} {
		m, f := sharedMutex(t)
		ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
		m.Lock()
		p, err := wantLockOnce.Start(ctx, counterArgs{M: m, F: f})
		if err != nil {
			t.Fatal(err)
		}
		want := semaphore.MutexWant(m)
		for want.Load() == 0 {
			if ctx.Err() != nil {
				t.Fatal("the child never named its process in the want word")
			}
			runtime.Gosched()
		}
		p.Kill()
		p.Wait()
		m.Unlock()
		if try {
			if !tryLockWithin(t, m, shmtest.Timeout(t, 2*time.Second)) {
				t.Fatalf("TryLock never took a free Mutex owed to a killed waiter (want %#x)", want.Load())
			}
		} else if err := m.LockContext(ctx); err != nil {
			t.Fatalf("LockContext beside a killed starving waiter: %v", err)
		}
		if w := want.Load(); w != 0 {
			t.Fatalf("want word %#x of a killed waiter still set after the lock was taken", w)
		}
		m.Unlock()
	}
}
