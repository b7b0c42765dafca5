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
