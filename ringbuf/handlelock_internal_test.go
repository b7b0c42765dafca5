package ringbuf

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/goid"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// One goroutine's Lock/Unlock pairs leave the lock in its first mode (the
// plain-store Unlock), and it excludes: TryLock fails while held.
func TestHandleLockOneGoroutine(t *testing.T) {
	var l handleLock
	for i := 0; i < 1000; i++ {
		l.Lock()
		if l.TryLock() {
			t.Fatal("TryLock took a held lock")
		}
		l.Unlock()
	}
	if m := l.mode.Load(); m != hlOne {
		t.Fatalf("mode %d after one goroutine's use, want %d (hlOne)", m, hlOne)
	}
	if !l.TryLock() {
		t.Fatal("TryLock of a free lock failed")
	}
	l.Unlock()
}

// Goroutines hammering one lock: no increment under it is lost, the lock
// reaches its shared mode, and no waiter is left asleep (the test would
// hang: every goroutine must finish). A plain counter, so that -race
// reports a broken exclusion. The test holds the lock until a goroutine
// has found it held, so that contention is certain.
func TestHandleLockHammer(t *testing.T) {
	const goroutines = 4
	n := shmtest.Iterations(t, 20000)
	var (
		l       handleLock
		counter int
		wg      sync.WaitGroup
	)
	l.Lock()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if i%7 != 0 || !l.TryLock() {
					l.Lock()
				}
				counter++
				l.Unlock()
			}
		}()
	}
	for l.mode.Load() == hlOne {
		runtime.Gosched() // until a goroutine has found the lock held
	}
	l.Unlock()
	wg.Wait()
	if counter != goroutines*n {
		t.Fatalf("counter %d, want %d: an increment was lost", counter, goroutines*n)
	}
	if m := l.mode.Load(); m != hlShared {
		t.Fatalf("mode %d after contention, want %d (hlShared)", m, hlShared)
	}
	if w := l.waiters.Load(); w != 0 {
		t.Fatalf("%d waiters left counted", w)
	}
}

// TestHandleLockSwitchHammer: many fresh locks, each used first by one
// goroutine alone (plain-store Unlocks) and then, at whatever moment the
// scheduler gives, by a second goroutine as well, so that the switch to
// the shared mode lands anywhere in the first one's Lock/Unlock pairs,
// its plain store included. A waiter that sleeps past the last Unlock
// hangs its pair, which the deadline turns into a failure; a plain
// counter per lock catches a broken exclusion.
func TestHandleLockSwitchHammer(t *testing.T) {
	locks, per := shmtest.Iterations(t, 500), 2000
	switched := 0 // locks that reached the shared mode
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// Past locks, go on (up to 20 times as many) until one lock has met
		// contention: on a loaded machine the two goroutines of a pair
		// may run one after the other for many pairs in a row.
		for k := 0; k < locks || switched == 0 && k < 20*locks; k++ {
			var (
				l       handleLock
				counter int
				wg      sync.WaitGroup
				running atomic.Int32 // both goroutines running: they start together
			)
			for g := 0; g < 2; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					running.Add(1)
					for j := 1; running.Load() < 2; j++ {
						if j%1024 == 0 {
							runtime.Gosched() // one P, or the other not yet scheduled
						}
					}
					for i := 0; i < per; i++ {
						l.Lock()
						counter++
						l.Unlock()
					}
				}()
			}
			wg.Wait()
			if counter != 2*per {
				done <- fmt.Errorf("lock %d: counter %d, want %d", k, counter, 2*per)
				return
			}
			if w := l.waiters.Load(); w != 0 {
				done <- fmt.Errorf("lock %d: %d waiters left counted", k, w)
				return
			}
			if l.mode.Load() != hlOne {
				switched++
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("a pair of goroutines never finished: a waiter slept past the last Unlock")
	}
	t.Logf("%d locks switched mode", switched)
	if switched == 0 {
		t.Skip("no lock met contention in 20 times the planned pairs: the switch went untested here (the counts above were checked)")
	}
}

// skipUnbiased skips the test where no handle lock is ever biased.
func skipUnbiased(t *testing.T) {
	t.Helper()
	if raceEnabled || !goid.HasG || !membarrier.Await() {
		t.Skip("handle locks are not biased here (race build, no goid.G, or membarrier refused)")
	}
}

// biasedLock returns a lock biased to the calling goroutine (its first
// two Locks make it the owner), or nil, having reported why (it may run
// on a goroutine other than the test's: no Fatal). Call skipUnbiased
// first.
func biasedLock(t *testing.T) *handleLock {
	l := new(handleLock)
	var held [2]uint32
	for i := range held {
		l.Lock()
		held[i] = l.state.Load() // (a look under the lock: the first two Locks take state)
		l.Unlock()
	}
	if o, g := l.owner.Load(), goid.G(); o != g || held != [2]uint32{1, 1} {
		t.Errorf("owner %#x after the first two Locks (state %v under them), want this goroutine's %#x (state 1 each)", o, held, g)
		return nil
	}
	return l
}

// TestHandleLockBiasRevoked: many fresh locks, each biased to a first
// goroutine that then goes on taking it with plain stores while a second
// goroutine joins at whatever moment the scheduler gives, so that the
// revocation lands anywhere in the owner's Lock/Unlock pairs (its
// tentative store and its look included). A plain counter per lock
// catches two holders at once; the owner's bias must be gone afterwards.
// The second goroutine starts before the first, so that it cannot
// inherit the first one's descriptor (goid.G) and with it the bias.
func TestHandleLockBiasRevoked(t *testing.T) {
	skipUnbiased(t)
	locks, per := shmtest.Iterations(t, 300), 2000
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
	defer cancel()
	for k := 0; k < locks; k++ {
		var (
			counter int
			wg      sync.WaitGroup
			biased  = make(chan *handleLock, 1)
			first   = make(chan *handleLock, 1)
		)
		wg.Add(2)
		go func() { // the second: waits for the lock, biased to the first
			defer wg.Done()
			l := <-biased
			for i := 0; l != nil && i < per; i++ {
				l.Lock()
				counter++
				l.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			l := biasedLock(t)
			first <- l
			if l == nil {
				biased <- nil
				return
			}
			for i := 0; i < per; i++ {
				if i == per/4 {
					biased <- l // the second joins now, while this one goes on
				}
				l.Lock()
				counter++
				l.Unlock()
			}
		}()
		l := <-first
		if l == nil {
			t.FailNow()
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
			t.Fatalf("lock %d: a goroutine never finished", k)
		}
		if counter != 2*per {
			t.Fatalf("lock %d: counter %d, want %d: two holders at once", k, counter, 2*per)
		}
		if o := l.owner.Load(); o != biasRevoked {
			t.Fatalf("lock %d: owner %#x after a second goroutine took it, want revoked", k, o)
		}
		if h := l.held.Load(); h != 0 {
			t.Fatalf("lock %d: held %d after both finished", k, h)
		}
	}
}

// TestHandleLockBiasedHoldAcrossGoroutines: a hold taken through the bias
// (a reservation) is released by an Unlock from another goroutine, as
// sync.Mutex allows. While it lasts, TryLock fails for the owner and for
// another goroutine, and the other's TryLock, which revokes the bias,
// leaves the hold standing: a Lock after it waits for that Unlock rather
// than take the lock through state beside it.
func TestHandleLockBiasedHoldAcrossGoroutines(t *testing.T) {
	skipUnbiased(t)
	l := biasedLock(t)
	if l == nil {
		t.FailNow()
	}
	l.Lock() // through the bias
	if h := l.held.Load(); h != heldOwned {
		t.Fatalf("held %d after the owner's Lock, want %d (heldOwned)", h, heldOwned)
	}
	if l.TryLock() {
		t.Fatal("the owner's TryLock took the lock it holds")
	}
	other := make(chan bool)
	go func() { other <- l.TryLock() }()
	if <-other {
		t.Fatal("another goroutine's TryLock took the lock the owner holds")
	}
	if o := l.owner.Load(); o != biasRevoked {
		t.Fatalf("owner %#x after another goroutine's TryLock, want revoked", o)
	}
	var inside atomic.Bool // set by the holder after the owner's second Lock
	released := make(chan struct{})
	go func() {
		defer close(released)
		if inside.Load() {
			t.Error("the second Lock went in while the bias hold stood")
		}
		l.Unlock() // the owner's hold, released from another goroutine
	}()
	l.Lock() // waits for that Unlock
	inside.Store(true)
	<-released
	if h, st := l.held.Load(), l.state.Load(); h != 0 || st != 1 {
		t.Fatalf("after the second Lock: held %d, state %d, want 0 and 1 (held through state)", h, st)
	}
	l.Unlock()
	if !l.TryLock() {
		t.Fatal("TryLock of the free lock failed")
	}
	l.Unlock()
}

func TestHandleLockUnlockUnlocked(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of a free lock did not panic")
		}
	}()
	var l handleLock
	l.Unlock()
}

// BenchmarkHandleLock: one goroutine's Lock, a 64-byte store (a message
// written under the lock), Unlock, beside sync.Mutex in the same run:
// the cost a handle used by one goroutine pays per message.
func BenchmarkHandleLock(b *testing.B) {
	var msg [64]byte
	b.Run("handleLock", func(b *testing.B) {
		var l handleLock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			l.Lock()
			msg[i&63] = byte(i)
			l.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var l sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			l.Lock()
			msg[i&63] = byte(i)
			l.Unlock()
		}
	})
}

// TestHandleLockBiasGoesToTheGoroutineThatUsesIt: a handle set up by one
// goroutine (AttachProducer takes the lock once) and then used by another
// must end up biased to the user, not revoked for good because the set-up
// goroutine held it first: the first holder is only a candidate, and the
// bias goes to a goroutine that takes the lock twice in a row.
func TestHandleLockBiasGoesToTheGoroutineThatUsesIt(t *testing.T) {
	skipUnbiased(t)
	var l handleLock
	held := 0 // what the lock guards
	l.Lock()  // the set-up goroutine's one hold
	held++
	l.Unlock()
	user := make(chan uintptr)
	go func() {
		for i := 0; i < 100; i++ {
			l.Lock()
			held++
			l.Unlock()
		}
		user <- goid.G()
	}()
	g := <-user
	if held != 101 {
		t.Fatalf("%d holds counted, want 101", held)
	}
	if o := l.owner.Load(); o != g {
		t.Fatalf("owner %#x after the set-up goroutine locked once and the user 100 times, want the user's %#x (revoked is %#x)", o, g, uintptr(biasRevoked))
	}
}

// TestMPSCBiasedToItsWriter: an MPSC handle attached by one goroutine and
// written by another takes its producer lock through the bias.
func TestMPSCBiasedToItsWriter(t *testing.T) {
	skipUnbiased(t)
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPSC(seg, "r", 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.AttachProducer(); err != nil {
		t.Fatal(err)
	}
	user := make(chan uintptr)
	go func() {
		for i := 0; i < 10; i++ {
			if err := r.Write(context.Background(), []byte("x")); err != nil {
				t.Error(err)
			}
		}
		user <- goid.G()
	}()
	g := <-user
	if o := r.p.mu.owner.Load(); o != g {
		t.Fatalf("producer lock's owner %#x after AttachProducer here and 10 Writes in another goroutine, want the writer's %#x", o, g)
	}
}

// TestHandleLockCallGivesUp: LockCall waits for a lock another goroutine
// holds, in the mode where waiters poll (hlMet) and in the one where they
// sleep (hlShared). Once the holder says it waits for the ring, a call
// gives up when its context ends (the context's error) and a Try call
// (noWait) at once (errWouldBlock), each woken from its sleep to do so.
// Behind a holder that runs, even a call whose context is done waits, and
// takes the lock when it is released.
func TestHandleLockCallGivesUp(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, mode := range []uint32{hlMet, hlShared} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			var l handleLock
			l.owner.Store(biasRevoked) // state alone: the bias has its own test
			l.mode.Store(mode)
			l.Lock()
			call := func(ctx context.Context) chan error {
				got := make(chan error, 1)
				go func() { got <- l.LockCall(ctx) }()
				return got
			}
			within := func(got chan error, want error, what string) {
				t.Helper()
				select {
				case err := <-got:
					if err != want {
						t.Fatalf("%s: LockCall = %v, want %v", what, err, want)
					}
				case <-time.After(shmtest.Timeout(t, 5*time.Second)):
					t.Fatalf("%s: LockCall still waits after 5 s", what)
				}
			}
			asleep := func() { // in hlShared, until the caller sleeps: its wake is what is tested
				for mode == hlShared && l.waiters.Load() == 0 {
					runtime.Gosched()
				}
			}

			l.holderWaits(true)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			within(call(ctx), context.DeadlineExceeded, "a deadline, the holder waiting")
			l.holderWaits(false)

			for _, c := range []struct {
				ctx  context.Context
				want error
				what string
			}{
				{noWait, errWouldBlock, "a Try call"},
				{canceled, context.Canceled, "a call whose context is done"},
			} {
				got := call(c.ctx)
				asleep()
				l.holderWaits(true) // wakes it
				within(got, c.want, c.what+", the holder starting to wait")
				l.holderWaits(false)
			}

			got := call(canceled)
			asleep()
			l.Unlock()
			within(got, nil, "a call whose context is done, the holder running and then unlocking")
			l.Unlock()
			if w := l.waiters.Load(); w != 0 {
				t.Fatalf("%d waiters left counted", w)
			}
		})
	}
}
