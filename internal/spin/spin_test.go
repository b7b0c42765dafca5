package spin_test

import (
	"testing"
	"time"

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
		sp, ok := a.Spin(base, p, func() bool { looks++; return false })
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
			// That park's length is the peer's: a long one teaches nothing.
			a.Parked(sp, spin.Now()-int64(time.Second), true)
			n := 0
			a.Spin(base, spin.Tight, func() bool { n++; return false })
			if n != 2*base {
				t.Errorf("a park to part the waiter from its peer taught the spin: %d looks after it, want %d", n, 2*base)
			}
		} else if n := a.Away(); n != spin.AwayWaits {
			t.Errorf("pause %d: a spin that does not yield changed the row: %d, want %d", p, n, spin.AwayWaits)
		}
		a.SetAway(spin.AwayWaits - 1)
		if _, ok := a.Spin(base, p, func() bool { return true }); !ok || a.Away() != 0 {
			t.Errorf("pause %d: a wait that ended at its first look left the row at %d (ok %v), want 0", p, a.Away(), ok)
		}
		a.SetAway(spin.AwayWaits - 1)
		s, _ := a.Spin(base, p, never)
		a.Parked(s, spin.Now(), true)
		if n := a.Away(); n != 0 {
			t.Errorf("pause %d: a park left the row at %d, want 0", p, n)
		}
	}
}

// TestSpinShortYieldsEndTheRow: a wait that ends just after a yield that
// returned at once (no other thread ran) ends the row; one that ends just
// after a yield that lasted YieldAway or more adds to it. The yields are
// stand-ins: a look that returns at once, and a busy wait of 5 µs. (A
// preemption inside the quick one makes it long: the test looks for one
// wait in 100 that saw it quick.)
func TestSpinShortYieldsEndTheRow(t *testing.T) {
	const base = 8
	var a spin.Adaptive
	a.Learn(base, spin.Stats{Parked: time.Microsecond, Woken: true}) // 2 × base rounds: the base, then yields
	afterFirstYield := func() func() bool {
		looks := 0
		return func() bool { looks++; return looks > base+1 }
	}
	defer spin.SetYield(func() {})()
	ended := false
	for try := 0; try < 100 && !ended; try++ {
		a.SetAway(spin.AwayWaits - 1)
		if _, ok := a.Spin(base, spin.Yielding, afterFirstYield()); !ok {
			t.Fatalf("a wait ready after its first yield reported not ready")
		}
		ended = a.Away() == 0
	}
	if !ended {
		t.Errorf("100 waits that ended just after a yield that returned at once: none ended the row")
	}
	spin.SetYield(func() {
		for end := spin.Now() + int64(5*time.Microsecond); spin.Now() < end; {
		}
	})
	a.SetAway(1)
	if _, ok := a.Spin(base, spin.Yielding, afterFirstYield()); !ok || a.Away() != 2 {
		t.Errorf("a wait that ended just after a yield of 5 µs: row %d (ok %v), want 2", a.Away(), ok)
	}
}
