package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// The plain Lock of a Mutex whose holder died takes the lock over and
// leaves it consistent: the next LockContext gets nil, not ErrOwnerDead.
func TestMutexLockTakesOverDead(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	dead := deadPid(t)
	forgeHolder(m, dead, procinfo.Ident{Pid: int32(dead), Start: 12345}.Word())
	m.Lock()
	if got := m.Owner(); got.Pid != int(procinfo.Self().Pid) {
		t.Fatalf("owner after Lock took over: %+v", got)
	}
	m.Unlock()
	if err := m.LockContext(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("LockContext after the plain Lock took over: %v", err)
	}
	m.Unlock()
}

// The plain Lock of a Mutex that is not recoverable panics: it cannot
// return ErrNotRecoverable, and returning without the lock would let the
// caller in unguarded.
func TestMutexLockNotRecoverablePanics(t *testing.T) {
	m, _ := semaphore.InitMutex(make([]byte, semaphore.MutexSize))
	forgeHolder(m, deadPid(t), 0)
	if err := m.LockContext(ctxFor(t, 5*time.Second)); !errors.Is(err, semaphore.ErrOwnerDead) {
		t.Fatal(err)
	}
	m.Unlock() // without MarkConsistent: not recoverable
	for name, lock := range map[string]func(){"Mutex.Lock": m.Lock} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "semaphore: ") {
					t.Errorf("%s of an unrecoverable Mutex: recovered %v, want a semaphore: panic", name, r)
				}
			}()
			lock()
		}()
	}
}

// The plain RLock of an RWMutex whose writer died takes the write lock
// over, marks it consistent and then reads; the next writer gets nil.
func TestRWMutexRLockTakesOverDeadWriter(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	rw, _ := semaphore.CreateRWMutex(seg, "rw")
	var _ sync.Locker = rw
	f := newFlags(t, seg, "flags")
	p, err := rwHold.Start(context.Background(), rwArgs{RW: rw, F: f, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	f.await(t, 0, 1, 10*time.Second)
	p.Kill()
	p.Wait()
	done := make(chan struct{})
	go func() { rw.RLocker().Lock(); close(done) }()
	select {
	case <-done:
	case <-time.After(recoverWithin): // only so that a hang fails
		t.Fatal("RLock behind a dead writer never returned")
	}
	if rw.TryRLock() {
		rw.RUnlock()
	} else {
		t.Error("a second reader cannot enter beside the first")
	}
	rw.RUnlock()
	if err := rw.LockContext(ctxFor(t, recoverWithin)); err != nil {
		t.Fatalf("LockContext after the plain RLock repaired: %v", err)
	}
	rw.Unlock()
}

type condForArgs struct {
	C *semaphore.Cond
	M *semaphore.Mutex
	F *flags
}

// condForWorker checks that its Cond's L is the Mutex M it was given
// separately, then waits for word 0 to be 1 and moves it to 2.
var condForWorker = process.Register("sem-condfor", func(ctx context.Context, a condForArgs) error {
	turn := a.F.u64(0)
	a.C.L.Lock()
	defer a.C.L.Unlock()
	if ok, _ := a.M.TryLock(); ok {
		a.M.Unlock()
		return errors.New("the Cond's L is not the Mutex it was bound to")
	}
	if err := a.C.WaitForContext(ctx, func() bool { return turn.Load() == 1 }); err != nil {
		return err
	}
	turn.Store(2)
	a.C.Notify(1)
	return nil
})

// A Cond bound to an existing Mutex (CreateCondFor) reaches a worker, and
// OpenCond, bound to the same Mutex.
func TestCondForProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	m, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	c, err := semaphore.CreateCondFor(seg, "c", m)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := semaphore.OpenCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	m.Lock()
	if ok, _ := c2.L.TryLock(); ok {
		t.Fatal("OpenCond's L is not the bound Mutex")
	}
	m.Unlock()

	f := newFlags(t, seg, "flags")
	turn := f.u64(0)
	ctx := ctxFor(t, shmtest.Timeout(t, 20*time.Second))
	p, err := condForWorker.Start(ctx, condForArgs{C: c, M: m, F: f})
	if err != nil {
		t.Fatal(err)
	}
	m.Lock()
	turn.Store(1)
	c.Broadcast()
	err = c.WaitForContext(ctx, func() bool { return turn.Load() == 2 })
	m.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}

	if _, err := semaphore.CreateCondFor(seg, "c3", nil); err == nil {
		t.Error("CreateCondFor with a nil Mutex succeeded")
	}
	other := shmtest.Segment(t, 1<<16)
	if _, err := semaphore.CreateCondFor(other, "c4", m); err == nil {
		t.Error("CreateCondFor with a Mutex of another segment succeeded")
	}
}

// WaitForContext returns ctx's error, L held, when the predicate stays
// false.
func TestCondWaitForContextEnds(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := semaphore.CreateCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.L.Lock()
	if err := c.WaitForContext(ctx, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitForContext with an ended ctx: %v", err)
	}
	if ok, _ := c.L.TryLock(); ok {
		t.Fatal("L not held after WaitForContext")
	}
	c.L.Unlock()
}

type barrierActionArgs struct {
	B      *semaphore.Barrier
	F      *flags
	Phases int
}

// barrierActionWorker sets an action that counts generations in u64(1),
// and after each Wait checks that the action of that generation has run
// (errors in word 6).
var barrierActionWorker = process.Register("sem-barrier-action", func(ctx context.Context, a barrierActionArgs) error {
	gens := a.F.u64(1)
	a.B.SetAction(func() error { gens.Add(1); return nil })
	for ph := 1; ph <= a.Phases; ph++ {
		if _, err := a.B.WaitContext(ctx); err != nil {
			return err
		}
		if g := gens.Load(); g < uint64(ph) {
			a.F.u32(6).Add(1)
		}
	}
	return nil
})

// Across three processes, the action runs exactly once per generation and
// before any party is released.
func TestBarrierActionProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	const parties = 3
	b, err := semaphore.CreateBarrier(seg, "b", parties)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(t, seg, "flags")
	phases := shmtest.Iterations(t, 200)
	ctx := ctxFor(t, shmtest.Timeout(t, 30*time.Second))
	var ps []*process.Process
	for range parties {
		p, err := barrierActionWorker.Start(ctx, barrierActionArgs{B: b, F: f, Phases: phases})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	waitAll(t, ps)
	if g := f.u64(1).Load(); g != uint64(phases) {
		t.Fatalf("the action ran %d times in %d generations", g, phases)
	}
	if e := f.u32(6).Load(); e != 0 {
		t.Fatalf("%d parties were released before their generation's action ran", e)
	}
}

// An action that fails or panics breaks the barrier; the last party gets
// the action's error (or its panic), the others ErrBroken.
func TestBarrierActionFails(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		action func() error
	}{
		{"error", func() error { return boom }},
		{"panic", func() error { panic(boom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			b, err := semaphore.CreateBarrier(seg, "b", 3)
			if err != nil {
				t.Fatal(err)
			}
			b.SetAction(tc.action)
			errs := make(chan error, 3)
			for range 3 {
				go func() {
					defer func() {
						if r := recover(); r != nil {
							errs <- fmt.Errorf("panic: %w", r.(error))
						}
					}()
					_, err := b.WaitContext(ctxFor(t, 10*time.Second))
					errs <- err
				}()
			}
			var withBoom, broken int
			for range 3 {
				err := <-errs
				switch {
				case errors.Is(err, boom):
					withBoom++
					if tc.name == "error" && !errors.Is(err, semaphore.ErrBroken) {
						t.Errorf("the action's error does not match ErrBroken: %v", err)
					}
				case errors.Is(err, semaphore.ErrBroken):
					broken++
				default:
					t.Errorf("Wait: %v", err)
				}
			}
			if withBoom != 1 || broken != 2 || !b.Broken() {
				t.Fatalf("%d parties got the action's failure, %d ErrBroken, broken %v; want 1, 2, true", withBoom, broken, b.Broken())
			}
		})
	}
}
