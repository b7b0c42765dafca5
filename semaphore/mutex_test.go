package semaphore_test

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/internal/sleepslice"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

func TestMutexBasic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Second)
	if err := m.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Owner(); got.Pid != int(procinfo.Self().Pid) || got.Start != procinfo.Self().Start || got.NS != procinfo.Self().NS {
		t.Fatalf("owner %v, want %v", got, procinfo.Self())
	}
	if ok, err := m.TryLock(); ok || err != nil {
		t.Fatalf("TryLock of a locked mutex: %v %v", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := m.LockContext(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held mutex with a deadline: %v", err)
	}
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	if err := m.LockContext(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock of a held mutex, done context: %v", err)
	}
	m.Unlock()
	if ok, err := m.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock of an unlocked mutex: %v %v", ok, err)
	}
	m.Unlock()
	if m.Owner() != (semaphore.Holder{}) {
		t.Fatalf("owner %v after Unlock", m.Owner())
	}
	m2, err := semaphore.OpenMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.TryLock(); ok {
		t.Fatal("two handles on one Mutex both locked it")
	}
	m.Unlock() // another handle (or goroutine) may unlock
	if _, err := semaphore.CreateMutex(seg, "m"); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("CreateMutex twice: %v", err)
	}
	if _, err := semaphore.OpenSemaphore(seg, "m"); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("OpenSemaphore of a mutex: %v", err)
	}
}

func TestMutexUnlockUnlockedPanics(t *testing.T) {
	mem := make([]byte, semaphore.MutexSize)
	m, err := semaphore.InitMutex(mem)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.HasPrefix(s, "semaphore: ") {
			t.Fatalf("recovered %v, want a semaphore: panic", r)
		}
	}()
	m.Unlock()
}

func TestMutexAt(t *testing.T) {
	mem := make([]byte, 2*semaphore.MutexSize+8)
	if _, err := semaphore.MutexAt(mem); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("MutexAt of zero memory: %v", err)
	}
	if _, err := semaphore.InitMutex(mem[:semaphore.MutexSize-1]); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("InitMutex of short memory: %v", err)
	}
	if _, err := semaphore.InitMutex(mem[4:]); !errors.Is(err, semaphore.ErrIncompatible) {
		t.Fatalf("InitMutex of misaligned memory: %v", err)
	}
	a, err := semaphore.InitMutex(mem)
	if err != nil {
		t.Fatal(err)
	}
	b, err := semaphore.MutexAt(mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.LockContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.TryLock(); ok {
		t.Fatal("MutexAt handle does not see the lock")
	}
	a.Unlock()
	if _, err := b.GobEncode(); err == nil {
		t.Fatal("an embedded Mutex encoded on its own")
	}
}

// forgeHolder makes m look held by pid with owner word w.
func forgeHolder(m *semaphore.Mutex, pid uint32, w uint64) {
	st, ow := semaphore.MutexWords(m)
	st.Store(semaphore.HolderField(pid))
	ow.Store(w)
}

// sharedMutex makes a Mutex and flags in a segment of their own, for tests
// that hand both to a child process.
func sharedMutex(tb testing.TB) (*semaphore.Mutex, *flags) {
	tb.Helper()
	seg := shmtest.Segment(tb, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		tb.Fatal(err)
	}
	return m, newFlags(tb, seg, "flags")
}

// deadPid returns the PID of a process that has exited.
func deadPid(t *testing.T) uint32 {
	t.Helper()
	p, err := exitWorker.Start(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return uint32(p.Pid())
}

var exitWorker = process.Register("sem-exit", func(ctx context.Context, _ int) error { return nil })

func TestMutexOwnerDeadAndRecovery(t *testing.T) {
	ctx := ctxFor(t, 5*time.Second)
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	dead := deadPid(t)
	forgeHolder(m, dead, procinfo.Ident{Pid: int32(dead), Start: 12345}.Word())
	if err := m.LockContext(ctx); !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatalf("Lock after a dead holder: %v", err)
	}
	m.MarkConsistent()
	m.Unlock()
	if err := m.LockContext(ctx); err != nil {
		t.Fatalf("Lock after recovery: %v", err)
	}
	m.Unlock()

	// Not marked consistent: unusable for ever.
	forgeHolder(m, dead, 0)
	if ok, err := m.TryLock(); !ok || !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatalf("TryLock after a dead holder: %v %v", ok, err)
	}
	m.Unlock()
	if err := m.LockContext(ctx); !errors.Is(err, semaphore.ErrNotRecoverable) {
		t.Fatalf("Lock of an unrecovered mutex: %v", err)
	}
	if ok, err := m.TryLock(); ok || !errors.Is(err, semaphore.ErrNotRecoverable) {
		t.Fatalf("TryLock of an unrecovered mutex: %v %v", ok, err)
	}
}

// TestMutexReusedPid: a holder word naming a live PID (ours) with another
// start time is a dead holder whose PID was reused.
func TestMutexReusedPid(t *testing.T) {
	me := procinfo.Self()
	if me.Start == 0 {
		t.Skip("no /proc start times")
	}
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	old := procinfo.Ident{Pid: me.Pid, Start: me.Start - 1}
	if procinfo.Alive(old) {
		t.Fatal("procinfo thinks an earlier start time of our PID is alive")
	}
	forgeHolder(m, uint32(me.Pid), old.Word())
	if err := m.LockContext(ctxFor(t, recoverWithin)); !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatalf("Lock over a reused PID: %v", err)
	}
	// The same PID with the right start time is alive: no takeover.
	m.MarkConsistent()
	forgeHolder(m, uint32(me.Pid), me.Word())
	if ok, err := m.TryLock(); ok || err != nil {
		t.Fatalf("TryLock over a live holder: %v %v", ok, err)
	}
}

func TestMutexGoroutines(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	n, per := 8, shmtest.Iterations(t, 2000)
	counter := 0
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := m.LockContext(ctx); err != nil {
					t.Error(err)
					return
				}
				counter++
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	if counter != n*per {
		t.Fatalf("counter %d, want %d", counter, n*per)
	}
	if s := semaphore.MutexSleepers(m); s != 0 {
		t.Fatalf("%d sleepers left counted after every waiter returned", s)
	}
}

type counterArgs struct {
	M     *semaphore.Mutex
	F     *flags
	Iters int
}

// counterWorker adds Iters to a plain (non-atomic read-modify-write) counter
// under M.
var counterWorker = process.Register("sem-mutex-counter", func(ctx context.Context, a counterArgs) error {
	c := a.F.u64(0)
	a.F.u32(1).Add(1)
	if err := a.F.awaitChild(ctx, 2, 1); err != nil { // start together
		return err
	}
	for i := 0; i < a.Iters; i++ {
		if err := a.M.LockContext(ctx); err != nil {
			return err
		}
		c.Store(c.Load() + 1) // deliberately not atomic: only the lock makes it exact
		a.M.Unlock()
	}
	return nil
})

func TestMutexHammerProcesses(t *testing.T) {
	iters := shmtest.Iterations(t, 50000)
	f := runMutexWorkers(t, counterWorker, 4, iters)
	if got, want := f.u64(0).Load(), uint64(4*iters); got != want {
		t.Fatalf("counter %d, want %d: the Mutex let two processes in", got, want)
	}
}

// runMutexWorkers starts procs processes of w on one Mutex, each for
// iters locks, lets them start together and waits for them; it fails the
// test if one fails or if the sleepers count is not back to 0 after, and
// returns the flags for the caller's checks.
func runMutexWorkers(t *testing.T, w *process.Func[counterArgs], procs, iters int) *flags {
	t.Helper()
	m, f := sharedMutex(t)
	ctx := ctxFor(t, shmtest.Timeout(t, 50*time.Second))
	var ps []*process.Process
	for i := 0; i < procs; i++ {
		p, err := w.Start(ctx, counterArgs{M: m, F: f, Iters: iters})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.await(t, 1, uint32(procs), 20*time.Second)
	f.signal(2, 1)
	waitAll(t, ps)
	if s := semaphore.MutexSleepers(m); s != 0 {
		t.Fatalf("%d sleepers left counted after every process finished", s)
	}
	return f
}

// TestMutexSleeperKilled: a waiter killed while parked leaves the sleepers
// count one high; the lock goes on working (a woken waiter then sets
// WAITERS at every take, Drepper's way): the next Unlock wakes nobody,
// and a later waiter parks, is woken and takes the lock.
func TestMutexSleeperKilled(t *testing.T) {
	m, f := sharedMutex(t)
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	if err := m.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := holdWorker.Start(ctx, counterArgs{M: m, F: f}) // parks: the test holds m
	if err != nil {
		t.Fatal(err)
	}
	for semaphore.MutexSleepers(m) == 0 { // until the child has parked
		if ctx.Err() != nil {
			t.Fatal("the child never parked")
		}
		runtime.Gosched()
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	m.Unlock()
	if s := semaphore.MutexSleepers(m); s != 1 {
		t.Fatalf("sleepers %d after the parked child was killed, want 1", s)
	}
	if err := m.LockContext(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		err := m.LockContext(ctx)
		if err == nil {
			m.Unlock()
		}
		got <- err
	}()
	for semaphore.MutexSleepers(m) < 2 { // until the goroutine has parked
		if ctx.Err() != nil {
			t.Fatal("the waiter never parked")
		}
		runtime.Gosched()
	}
	m.Unlock()
	if err := <-got; err != nil {
		t.Fatalf("the parked waiter did not get the lock: %v", err)
	}
	if s := semaphore.MutexSleepers(m); s != 1 {
		t.Fatalf("sleepers %d after the waiter returned, want 1 (the killed one's)", s)
	}
	if f.u32(0).Load() != 0 {
		t.Fatal("the killed child took the lock")
	}
}

// holdWorker locks M, says so in flag 0, and waits to be killed.
var holdWorker = process.Register("sem-mutex-hold", func(ctx context.Context, a counterArgs) error {
	if err := a.M.LockContext(ctx); err != nil {
		return err
	}
	a.F.u64(0).Store(0xdead) // half-done update the survivor repairs
	a.F.signal(0, 1)
	select {}
})

// holdMutex makes a Mutex in a new segment and a child process (holdWorker)
// that locks it; it returns once the child holds it. The caller kills the
// child.
func holdMutex(tb testing.TB) (*semaphore.Mutex, *flags, *process.Process) {
	tb.Helper()
	m, f := sharedMutex(tb)
	p, err := holdWorker.Start(context.Background(), counterArgs{M: m, F: f})
	if err != nil {
		tb.Fatal(err)
	}
	f.await(tb, 0, 1, 10*time.Second)
	return m, f, p
}

// TestMutexTryLockPolling: TryLock polled on a Mutex that a live process
// holds looks in /proc (9 allocations) about once a millisecond, not at
// every call; once the holder is killed a poll takes the lock with
// ErrOwnerDead.
func TestMutexTryLockPolling(t *testing.T) {
	m, _, p := holdMutex(t)
	defer p.Kill()
	poll := func() {
		if ok, err := m.TryLock(); ok || err != nil {
			t.Fatalf("TryLock of a Mutex a live process holds: %v, %v", ok, err)
		}
	}
	if n := testing.AllocsPerRun(1000, poll); n >= 1 {
		t.Fatalf("TryLock on a held Mutex: %v allocations a call, want well under 1 (a look in /proc at every call makes 9)", n)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	ctx := ctxFor(t, 10*time.Second)
	for {
		ok, err := m.TryLock()
		if ok {
			if !errors.Is(err, semaphore.ErrOwnerDead) {
				t.Fatalf("TryLock after the holder was killed: %v, want ErrOwnerDead", err)
			}
			break
		}
		if err != nil || ctx.Err() != nil {
			t.Fatalf("TryLock never took the lock from the killed holder: %v, %v", err, ctx.Err())
		}
		runtime.Gosched()
	}
	m.MarkConsistent()
	m.Unlock()
}

func TestMutexCrash(t *testing.T) {
	trials := shmtest.Iterations(t, 20)
	for i := 0; i < trials; i++ {
		m, f, p := holdMutex(t)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), recoverWithin)
		err := m.LockContext(ctx)
		cancel()
		took := time.Since(start)
		if !errors.Is(err, semaphore.ErrOwnerDead) {
			t.Fatalf("trial %d: Lock after the holder was killed: %v (after %v)", i, err, took)
		}
		if f.u64(0).Load() != 0xdead {
			t.Fatal("child's write not seen")
		}
		f.u64(0).Store(0)
		m.MarkConsistent()
		m.Unlock()
		p.Wait()
		t.Logf("trial %d: recovered in %v", i, took)
	}
}

func TestMutexGob(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "gobm")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := gob.NewEncoder(&b).Encode(m); err != nil {
		t.Fatal(err)
	}
	var m2 semaphore.Mutex
	if err := gob.NewDecoder(strings.NewReader(b.String())).Decode(&m2); err != nil {
		t.Fatal(err)
	}
	if err := m.LockContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m2.TryLock(); ok {
		t.Fatal("decoded handle does not see the lock")
	}
	m.Unlock()
}

func ExampleMutex() {
	seg, err := shm.Create(fmt.Sprintf("example-mutex-%d", os.Getpid()), 1<<16)
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	m, err := semaphore.CreateMutex(seg, "lock")
	if err != nil {
		panic(err)
	}
	switch err := m.LockContext(context.Background()); {
	case errors.Is(err, semaphore.ErrOwnerDead):
		// repair the guarded state, then:
		m.MarkConsistent()
	case err != nil:
		panic(err)
	}
	fmt.Println("locked by this process:", m.Owner().Pid == os.Getpid())
	m.Unlock()
	// Output: locked by this process: true
}

// An Unlock that releases with a plain store and a waiter that parks in
// the gap between its look at the sleepers count and its store (a holder
// descheduled there): the store clobbers the waiter's WAITERS bit and
// wakes nobody. The waiter's first sleep is short, so it still takes the
// lock soon; with its usual sleep (the liveness poll, made an hour here,
// as is atomics' sleep slice) it would lie asleep on a free lock, a hang
// that awaitTaken reports.
func TestMutexPlainReleaseRacingAPark(t *testing.T) {
	m, state := mutexForRace(t)
	inWait := futexWaitOn(state)
	var took <-chan struct{}
	hooked := false
	var seen time.Duration // how long the Unlock waited for the waiter to sleep
	semaphore.SetPlainReleaseHook(t, func() {
		if hooked {
			return // the waiter's own Unlock
		}
		hooked = true
		took = lockInTurn(m)
		// No t.Fatal here: the waiter must get the lock and leave before the
		// segment is unmapped.
		var ok bool
		if seen, ok = awaitFutexSleep(t, inWait); ok {
			if n := semaphore.MutexSleepers(m); n != 1 {
				t.Errorf("sleepers %d with the waiter parked, want 1", n)
			}
		}
	})
	m.Lock()
	//lint:ignore SA2001 the Unlock is what the test races: the hook runs inside it
	m.Unlock()
	if !hooked {
		t.Fatal("Unlock did not take the plain release")
	}
	awaitTaken(t, m, took, seen)
}

// awaitTaken waits for the waiter that lockInTurn started to take the lock
// that a racing plain release freed without a wake. Its sleeps on the lock
// word start short and double while the lock stays held, as long as the
// Unlock waited for it to sleep (seen), so it wakes within about twice
// that; its other sleeps (the liveness poll, atomics' sleep slice) are an
// hour here. The wait allows twice seen and a patience that no loaded
// machine comes near: past that the waiter sleeps on a free lock with
// nothing to wake it, a lost wake-up. The test then fails, and the waiter
// is woken, so that it leaves the lock before the segment's unmap.
func awaitTaken(t *testing.T, m *semaphore.Mutex, took <-chan struct{}, seen time.Duration) {
	t.Helper()
	limit := 2*seen + shmtest.Timeout(t, 30*time.Second)
	select {
	case <-took:
		return
	case <-time.After(limit):
	}
	t.Errorf("the waiter still sleeps on the freed lock %v after the release (the Unlock waited %v for it to sleep): a lost wake-up, its sleeps should have started at %v", limit, seen, semaphore.MutexFirstSleep)
	state, _ := semaphore.MutexWords(m)
	for {
		atomics.Wake(state, -1)
		select {
		case <-took:
			return
		case <-time.After(time.Millisecond): // it may be between a look and its sleep
		}
	}
}

// futexWaitOn is how /proc/self/task/*/syscall shows a thread asleep in
// futex(state, ...).
func futexWaitOn(state *atomic.Uint32) string {
	return fmt.Sprintf("202 %#x ", uintptr(unsafe.Pointer(state)))
}

// awaitFutexSleep waits, for up to 10 s, until a thread of this process
// is in the system call inWait (futexWaitOn), and returns how long that
// took. It reports a failure with t.Error, never t.Fatal: its callers run
// inside an Unlock that a waiter must see finish before the test unmaps
// the lock.
func awaitFutexSleep(t *testing.T, inWait string) (time.Duration, bool) {
	t0 := time.Now()
	for deadline := t0.Add(10 * time.Second); !threadInSyscall(inWait); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Error("the waiter never slept in futex_wait on the lock word")
			return time.Since(t0), false
		}
	}
	return time.Since(t0), true
}

// threadInSyscall reports whether a thread of this process is in the
// system call that /proc/self/task/*/syscall shows as a line starting with
// prefix.
func threadInSyscall(prefix string) bool { return threadsInSyscall(prefix, 1) }

// syscallLine is a line of /proc/self/task/*/syscall with a futex wait's
// FUTEX_WAIT_BITSET shown as FUTEX_WAIT: atomics sleeps so where
// futex_waitv is missing (see its cancelWake), and the tests look for a
// thread asleep in either.
func syscallLine(b []byte) string {
	f := strings.SplitN(string(b), " ", 4)
	if len(f) == 4 && f[0] == "202" && f[2] == "0x9" {
		f[2] = "0x0"
	}
	return strings.Join(f, " ")
}

// plainRacer is an Unlock, started from a waiter's parking loop, that
// stops in its plain release (after its look at the sleepers count, before
// its store) until a thread of this process sleeps in futex_wait on the
// lock word: the holder descheduled there that plainRelease describes.
type plainRacer struct {
	t        *testing.T
	m        *semaphore.Mutex
	inWait   string
	armed    atomic.Bool
	inWindow chan struct{}
	unlocked chan struct{}
	// Written by the racing Unlock before its store; read after unlocked.
	seen time.Duration // how long it waited for the waiter to sleep
}

// lockedForRace makes a Mutex for the plain-release race tests, its
// waiters' liveness poll and atomics' sleep slice an hour, and locks it: it
// returns the Mutex, its lock word and the word as this process holds it.
func lockedForRace(t *testing.T) (*semaphore.Mutex, *atomic.Uint32, uint32) {
	m, state := mutexForRace(t)
	m.Lock()
	return m, state, state.Load()
}

// mutexForRace makes an unlocked Mutex for the plain-release race tests,
// its waiters' liveness poll and atomics' sleep slice an hour (a waiter's
// only short sleeps are then the ones after its count), and returns it and
// its lock word.
func mutexForRace(t *testing.T) (*semaphore.Mutex, *atomic.Uint32) {
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	semaphore.SetMutexPoll(t, time.Hour)
	t.Cleanup(sleepslice.Set(time.Hour))
	state, _ := semaphore.MutexWords(m)
	return m, state
}

// lockInTurn locks and unlocks m in a goroutine of its own and closes the
// channel it returns after the Unlock: the test unmaps the lock once it
// is closed.
func lockInTurn(m *semaphore.Mutex) <-chan struct{} {
	took := make(chan struct{})
	go func() {
		m.Lock()
		//lint:ignore SA2001 the Lock is what the test watches: the waiter takes the freed lock
		m.Unlock()
		close(took)
	}()
	return took
}

func newPlainRacer(t *testing.T, m *semaphore.Mutex) *plainRacer {
	state, _ := semaphore.MutexWords(m)
	r := &plainRacer{t: t, m: m, inWindow: make(chan struct{}), unlocked: make(chan struct{}), inWait: futexWaitOn(state)}
	semaphore.SetPlainReleaseHook(t, func() {
		if !r.armed.CompareAndSwap(true, false) {
			return // another Unlock: the waiter's own
		}
		close(r.inWindow)
		r.seen, _ = awaitFutexSleep(t, r.inWait) // no t.Fatal inside: see there
	})
	return r
}

// start, called in the waiter's parking loop, starts the Unlock of the
// lock that this process holds with nobody counted, and returns once that
// Unlock has looked at the sleepers count.
func (r *plainRacer) start() {
	r.armed.Store(true)
	go func() {
		r.m.Unlock()
		close(r.unlocked)
	}()
	<-r.inWindow
}

// check fails the test unless the waiter started by lockInTurn, whose
// report comes on took, takes the lock that the racing Unlock's store
// freed within what its short sleeps allow (see awaitTaken). That store
// is the only release the waiter can take the lock from: the Unlock
// returns, and check goes on, only once the waiter's parking loop has
// started it and it has taken the plain release.
func (r *plainRacer) check(took <-chan struct{}) {
	<-r.unlocked
	awaitTaken(r.t, r.m, took, r.seen)
}

// A waiter whose first look found WAITERS already set (left by a waiter
// that has since taken the lock) counts itself after a plain Unlock's look
// at the sleepers count. Its wait on that stale word ends at once, which
// must not count as the word changing after its count: it then sets
// WAITERS on the new holder's word, which the Unlock's store clears
// without a wake, and must still sleep short.
func TestMutexPlainReleaseAfterStaleWaiters(t *testing.T) {
	m, state, holder := lockedForRace(t)
	state.Store(holder | semaphore.MWaiters) // a waiter's bit: it will have taken the lock when the waiter acts
	r := newPlainRacer(t, m)
	turn := 0 // the waiter's goroutine's alone
	semaphore.SetParkLoopHook(t, func(v uint32) {
		if turn++; turn != 1 {
			return
		}
		if v != holder|semaphore.MWaiters {
			t.Errorf("the waiter's first look found %#x, want %#x", v, holder|semaphore.MWaiters)
		}
		state.Store(holder) // taken by a locker that saw nobody counted
		r.start()
	})
	took := lockInTurn(m)
	r.check(took)
}

// A waiter whose short sleeps have doubled, woken to a free lock that a
// barger takes first, counts itself again: after a plain Unlock's look at
// the sleepers count, as the first time. Its sleeps must start short
// again, not at the length they had doubled to. The sleep it would keep
// (256 ms) ends on its own, so no wait tells it from a loaded machine's
// delay: the test reads the sleep's length where the waiter starts it.
func TestMutexPlainReleaseRacingARecount(t *testing.T) {
	m, state, holder := lockedForRace(t)
	r := newPlainRacer(t, m)
	turn := 0               // the waiter's goroutine's alone
	var again time.Duration // its first sleep after it counts itself again; the waiter's goroutine's alone until took
	var held atomic.Int32   // turns of the waiter's loop that found the lock held
	const doubled = 2 + 8   // its look, its look after counting, and sleeps of 1, 2, ... 128 ms
	semaphore.SetParkSleepHook(t, func(d time.Duration) {
		if turn == 2 && again == 0 {
			again = d
		}
	})
	semaphore.SetParkLoopHook(t, func(v uint32) {
		switch {
		case turn == 0 && v&semaphore.MHolderMask != 0:
			held.Add(1)
		case turn == 0: // woken to the free lock: a barger takes it first
			turn = 1
			if !state.CompareAndSwap(v, holder) {
				t.Errorf("the free word %#x changed under the waiter", v)
			}
		case turn == 1:
			turn = 2
			r.start()
		}
	})
	took := lockInTurn(m)
	// Its sleeps double while the lock stays held: wait until the next one
	// is 256 ms, a sleep it must not keep after it counts itself again.
	for deadline := time.Now().Add(10 * time.Second); held.Load() < doubled; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the waiter's loop found the lock held %d times in 10 s, want %d", held.Load(), doubled)
			break // no Fatal: the waiter must get the lock and leave before the segment is unmapped
		}
	}
	m.Unlock() // a CAS release (a waiter is counted), which wakes it
	r.check(took)
	if again != semaphore.MutexFirstSleep {
		t.Errorf("the waiter's first sleep after it counted itself again was %v, want %v: its sleeps did not start short again", again, semaphore.MutexFirstSleep)
	}
}
