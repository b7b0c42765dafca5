package spin_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/spin"
)

// TestSpinLooks: a spin looks until ready holds, at most the base times
// without history, and the rounds learnt (twice the base after one short
// gap, the base again after a long one) with it, whatever the pause (a
// Yielding one cut short by MaxYielding past the base).
func TestSpinLooks(t *testing.T) {
	const base = 8
	for _, p := range []spin.Pause{spin.Tight, spin.Relaxed, spin.Yielding} {
		looks := 0
		if _, ok := (*spin.Adaptive)(nil).Spin(base, p, func() bool { looks++; return looks == 3 }); !ok || looks != 3 {
			t.Errorf("pause %d: ready on look 3: ok %v after %d looks", p, ok, looks)
		}
		var a spin.Adaptive
		count := func() int {
			n := 0
			if _, ok := a.Spin(base, p, func() bool { n++; return false }); ok {
				t.Fatalf("pause %d: a spin on a condition that never holds reported it held", p)
			}
			return n
		}
		if n := count(); n != base {
			t.Errorf("pause %d: %d looks without history, want %d", p, n, base)
		}
		a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true}) // a short gap: covered
		// Yielding: the rounds beyond the base stop after MaxYielding, which
		// a loaded machine's sched_yield may reach before they are done.
		if n := count(); n != 2*base && (p != spin.Yielding || n <= base || n > 2*base) {
			t.Errorf("pause %d: %d looks after a short gap, want %d", p, n, 2*base)
		}
		a.Learn(base, spin.Stats{Parked: time.Second, Woken: true}) // a long gap
		if n := count(); n != base {
			t.Errorf("pause %d: %d looks after a long gap, want %d", p, n, base)
		}
		a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true})
		a.Reset()
		if n := count(); n != base {
			t.Errorf("pause %d: %d looks after Reset, want %d", p, n, base)
		}
	}
}

// TestSpinGrowthBounded: however many short gaps teach it, a spin looks
// at most MaxGrowth times its base before it parks, so a waiter on a busy
// 2-core machine cannot grow into a spin that holds the CPU its peer
// needs; one long gap brings it back down by half, never under the base.
func TestSpinGrowthBounded(t *testing.T) {
	const base = 8
	var a spin.Adaptive
	count := func() int {
		n := 0
		a.Spin(base, spin.Tight, func() bool { n++; return false })
		return n
	}
	for i := 0; i < 1000; i++ {
		a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true})
	}
	if n := count(); n != spin.MaxGrowth*base {
		t.Fatalf("%d looks after 1000 short gaps, want the bound %d", n, spin.MaxGrowth*base)
	}
	a.Learn(base, spin.Stats{Parked: time.Second, Woken: true})
	if n := count(); n != spin.MaxGrowth*base/2 {
		t.Fatalf("%d looks after a long gap, want half the bound %d", n, spin.MaxGrowth*base/2)
	}
	for i := 0; i < 100; i++ {
		a.Learn(base, spin.Stats{Parked: time.Second, Woken: true})
	}
	if n := count(); n != base {
		t.Fatalf("%d looks after 100 long gaps, want the base %d", n, base)
	}
}

// TestPollDue: the first park owes a poll a period later, parks before it
// keep it, a poll moves it a period on, and a park long after it was owed
// (a new wait, much later) owes one a period from then, not at once.
func TestPollDue(t *testing.T) {
	const period = 50 * time.Millisecond
	p := int64(period)
	var d spin.PollDue
	if d.Owed(1 << 62) {
		t.Fatal("owed before any park")
	}
	d.Park(1000, period)
	for _, c := range []struct {
		now  int64
		park bool
		want bool
	}{
		{1000 + p - 1, true, false}, // parks before it: still owed at 1000+p
		{1000 + p, false, true},
	} {
		if c.park {
			d.Park(c.now, period)
		}
		if got := d.Owed(c.now); got != c.want {
			t.Fatalf("Owed(%d) = %v, want %v", c.now, got, c.want)
		}
	}
	d.Polled(1000+p, period)
	if d.Owed(1000+2*p-1) || !d.Owed(1000+2*p) {
		t.Fatal("a poll did not move the next one a period on")
	}
	later := int64(1000 + 10*p)
	d.Park(later, period)
	if d.Owed(later) || !d.Owed(later+p) {
		t.Fatal("a park long after the poll was owed did not owe one a period from then")
	}
}

// TestSpinParksWhenYieldsGiveTheCPUAway: a Yielding waiter whose waits
// end, AwayWaits times in a row, just after a sched_yield that gave its
// CPU to another thread parks after its base rounds on the next wait
// instead of yielding, and the wait after that yields again. The other
// thread is a real one, pinned with the waiter to one CPU, which works 5
// µs and yields in turn, and a wait ends when it has run: the waiter's
// peer on a shared CPU. (On a loaded machine a wait may end otherwise,
// after a yield that let a third thread run, or spend its yields while
// the peer waits for the Go scheduler; the rows that follow count, for up
// to 5 s.)
func TestSpinParksWhenYieldsGiveTheCPUAway(t *testing.T) {
	const base = 8
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: the peer and the waiter run Go code at once")
	}
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Skipf("sched_getaffinity: %v", err)
	}
	cpu := 0
	for !all.IsSet(cpu) {
		cpu++
	}
	var one unix.CPUSet
	one.Set(cpu)
	// pin pins the calling goroutine's thread to cpu, and returns what
	// unpins it: the thread goes back to the runtime with the process's
	// CPUs, or, if that fails, stays locked, which ends it with its
	// goroutine (or parks it, the main thread).
	pin := func() (func(), error) {
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return func() {}, err
		}
		return func() {
			if unix.SchedSetaffinity(0, &all) == nil {
				runtime.UnlockOSThread()
			}
		}, nil
	}
	var stop atomic.Bool
	var ran atomic.Uint64 // rounds of the peer
	pinned := make(chan error)
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		unpin, err := pin()
		defer unpin()
		pinned <- err
		for err == nil && !stop.Load() {
			// A peer: it does some work (5 µs, longer than YieldAway
			// whatever the machine's context switches cost), then
			// yields the CPU back.
			ran.Add(1)
			for end := spin.Now() + int64(5*time.Microsecond); spin.Now() < end; {
			}
			spin.Yield()
		}
	}()
	if err := <-pinned; err != nil {
		t.Skipf("sched_setaffinity: %v", err)
	}
	defer func() {
		stop.Store(true)
		<-peerDone
	}()
	unpin, err := pin()
	defer unpin()
	if err != nil {
		t.Skipf("sched_setaffinity: %v", err)
	}
	var a spin.Adaptive
	a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true}) // 2 × base rounds: the base, then yields
	// wait spins until the peer has run since its base rounds, and
	// returns its looks.
	wait := func() (int, bool) {
		looks := 0
		var seen uint64
		_, ok := a.Spin(base, spin.Yielding, func() bool {
			looks++
			if looks <= base {
				seen = ran.Load()
				return false
			}
			return ran.Load() != seen
		})
		return looks, ok
	}
	parkedAt := -1
	for w, end := 0, time.Now().Add(5*time.Second); parkedAt < 0 && time.Now().Before(end); w++ {
		if looks, ok := wait(); !ok && looks == base {
			parkedAt = w
		}
	}
	if parkedAt < 0 {
		t.Fatalf("5 s of waits, each ended by the CPU's other thread running while the waiter yielded: none parked after its base rounds")
	}
	if parkedAt < spin.AwayWaits {
		t.Fatalf("wait %d parked after its base rounds: fewer than AwayWaits (%d) waits came before it", parkedAt, spin.AwayWaits)
	}
	if looks, _ := wait(); looks <= base {
		t.Fatalf("the wait after a park at the base looked %d times: it parked again at the base (%d)", looks, base)
	}
}

// TestSpinAwayRow: only a Yielding spin parks at its base for a row of
// waits that ended after yields that gave the CPU away, once per row; a
// wait that ends otherwise, in any pause, ends the row, and so does a
// park (Parked).
func TestSpinAwayRow(t *testing.T) {
	const base = 8
	never := func() bool { return false }
	for _, p := range []spin.Pause{spin.Tight, spin.Relaxed, spin.Yielding} {
		var a spin.Adaptive
		a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true}) // 2 × base rounds
		a.SetAway(spin.AwayWaits)
		looks := 0
		_, ok := a.Spin(base, p, func() bool { looks++; return false })
		want := 2 * base
		if p == spin.Yielding {
			want = base
		}
		if ok || looks != want {
			t.Errorf("pause %d, a row of AwayWaits: %d looks (ok %v), want %d", p, looks, ok, want)
		}
		if p == spin.Yielding {
			if n := a.Away(); n != 0 {
				t.Errorf("the park at the base left the row at %d, want 0", n)
			}
		} else if n := a.Away(); n != spin.AwayWaits {
			t.Errorf("pause %d: a spin that does not yield changed the row: %d, want %d", p, n, spin.AwayWaits)
		}
		a.SetAway(spin.AwayWaits - 1)
		if _, ok := a.Spin(base, p, func() bool { return true }); !ok || a.Away() != 0 {
			t.Errorf("pause %d: a wait that ended at its first look left the row at %d (ok %v), want 0", p, a.Away(), ok)
		}
		a.SetAway(spin.AwayWaits - 1)
		s, _ := a.Spin(base, spin.Tight, never)
		a.Parked(s, spin.Now(), true)
		if n := a.Away(); n != 0 {
			t.Errorf("pause %d: a park left the row at %d, want 0", p, n)
		}
	}
}
