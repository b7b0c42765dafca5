package spin

import (
	"sync/atomic"
	"time"
)

// RelaxChecks divides the looks of a waiter that relaxes: a spin of n
// looks without pauses lasts about as long as n/RelaxChecks relaxed ones.
const RelaxChecks = 8

// relaxLoads is the number of loads of relaxWord that make one Relax.
//
//lint:ignore U1000 used by relax_amd64.s, which staticcheck does not read
const relaxLoads = 128

// relaxWord is only ever read: Relax's loads of it cannot be optimised away.
//
//lint:ignore U1000 used by relax_amd64.s, which staticcheck does not read
var relaxWord atomic.Uint32

// Relax (relax_amd64.s, relax_other.go) lasts some tens of nanoseconds:
// relaxLoads loads of relaxWord. A waiter that re-reads the other side's
// index in a tight loop takes its cache line away after every store the
// other side makes; pausing lets a producer publish several records per
// line transfer (throughput) at the price of a few tens of nanoseconds of
// latency. A waiter chosen for latency (atomics.Spin) does not relax.
//
// On amd64 the loop is assembly aligned on 32 bytes: compiled from Go its
// duration depended on where the linker happened to put it (a loop across
// a 64-byte boundary runs slower on this CPU), and with it the latency of
// a parked ping-pong, 271 or 330 ns p50 from one build to the next with
// no change to the waiting code.

// Adaptive spinning. A waiter that parks pays a futex sleep, and its waker
// a FUTEX_WAKE, a system call that on a VM costs microseconds of the
// publisher's time (an interprocessor interrupt to the sleeper's CPU): 14%
// of a 64-byte stream's producer when the consumer, as fast as the
// producer, slept between two write batches; most of a ping-pong's tail
// when the reply came just after the waiter's fixed spin ended. So a
// waiter woken after a gap (its spin and its park together) that the
// longest spin would have covered doubles its rounds, up to MaxGrowth
// times the base; a longer gap halves them, down to the base, as does a
// park that ended any other way after ShortPark or more (a deadline, the
// poll period). A stream whose gaps are short and regular spins across
// them; gaps longer than the longest spin, and idle objects, park after
// the base spin.
//
// The gap is timed from the ClockRound-th round of the spin, so that a
// wait that ends in its first rounds (a ping-pong reply) reads no clock;
// the spin's rounds between that and the park give the time of one round,
// which converts the longest spin into time. A spin too short to be timed
// falls back to the park alone: shorter than ShortPark counts as covered.
const (
	ShortPark  = 50 * time.Microsecond
	MaxGrowth  = 16
	ClockRound = 32
)

// Adaptive is one waiter's learnt spin: the rounds its next spin makes
// before it parks. The zero value spins the base. It is process-local
// state of a handle (one per side it waits on), safe for concurrent use:
// several goroutines waiting through one handle teach it together.
type Adaptive struct {
	rounds atomic.Int32 // rounds learnt from past waits; 0 before any
	away   atomic.Int32 // Yielding: waits in a row that ended just after a yield that gave the CPU away
}

// Reset forgets what was learnt (new options, a new base).
func (a *Adaptive) Reset() {
	a.rounds.Store(0)
	a.away.Store(0)
}

// A waiter and the peer it waits for can end up on one CPU while the
// other is idle: the scheduler does not move a thread that ran
// microseconds ago (it is cache-hot), and two threads that spin and yield
// to each other always did. Each then waits for the other's reply through
// a sched_yield that gives it the CPU: two context switches a message,
// however idle the machine. A pipe's 64-byte ping-pong on the 2-core VM
// failed its tail line (p99 within 3x of p50) in 22 runs of 71, at either
// placement of the VM's CPUs, most with a p99 of 9.2-14 µs (their
// sched_yields lasted 4-16 µs; in the others, 1-2 µs under the tracer).
// A waiter that parks can part them: the kernel may wake a sleeper on the
// idle CPU (not always: in some runs it kept every wake on the waker's
// CPU). So a Yielding waiter whose waits, AwayWaits in a row, each ended
// just after a yield that lasted YieldAway or more parks after its base
// rounds, once, instead of yielding (one goroutine of those that share the
// Adaptive), and learns nothing from that park. On a loaded machine, where
// every yield gives the CPU away, that is at most one wait in AwayWaits+1
// parked rather than yielded: the machine's load, not the peer, holds the
// CPU then either way. The peer pays a FUTEX_WAKE for that wait. With it,
// the ping-pong failed in 8 runs of 70 against 17 of 70 in the same
// batches, and its p999 rose where the threads met (docs/queue.md,
// "Waiters that share a CPU with their peer").
const (
	// YieldAway: a sched_yield that found nobody else runnable on its CPU
	// returns within a microsecond (0.6 µs on the VM measured); one that
	// ran another thread lasts two context switches at least (3 µs there,
	// two threads pinned to one CPU yielding to each other).
	YieldAway = 2 * time.Microsecond
	// AwayWaits: the waits in a row, each ended just after a yield that
	// gave the CPU away, that make the next one park without yielding.
	AwayWaits = 4
)

// yield is Yield; tests replace it.
var yield = Yield

// endedAfterYield counts a wait that ended: just after a yield that gave
// the CPU away (away), it adds to the count; any other resets it (row:
// the count as the wait began).
func (a *Adaptive) endedAfterYield(away bool, row int32) {
	if away {
		a.away.Add(1)
	} else if row != 0 {
		a.away.Store(0)
	}
}

// Stats describes one wait that parked, for Learn.
type Stats struct {
	Spun   time.Duration // from the clock round to the park; 0: not timed
	Rounds int           // the rounds spun in that time
	Parked time.Duration // in the kernel
	Woken  bool          // the park ended by a wake, not a deadline or poll
}

// Learn adapts the rounds of the next spins (base: the configured rounds)
// to a wait that parked.
func (a *Adaptive) Learn(base int, s Stats) {
	var covered bool
	if s.Spun > 0 && s.Rounds > 0 {
		perRound := s.Spun / time.Duration(s.Rounds)
		covered = s.Spun+s.Parked < perRound*time.Duration(MaxGrowth*base)
	} else {
		covered = s.Parked < ShortPark
	}
	r := max(int(a.rounds.Load()), base)
	switch {
	case s.Woken && covered:
		r = min(2*r, MaxGrowth*base)
	case s.Woken || s.Parked >= ShortPark:
		r = max(r/2, base)
	default:
		return // a deadline cut a short park: nothing learnt
	}
	a.rounds.Store(int32(r))
}

// Spell records one spin for Parked.
type Spell struct {
	base, rounds int
	clocked      int64 // Now at round ClockRound; 0: not reached, or not adaptive
	apart        bool  // a park to part a waiter from its peer (see YieldAway): nothing to learn from
}

// Pause says what a spinner does between two looks.
type Pause uint8

const (
	// Tight looks again at once: lowest latency, the line of the word
	// looked at taken from its writer at every look.
	Tight Pause = iota
	// Relaxed pauses with Relax between looks.
	Relaxed
	// Yielding pauses with Relax for the base rounds, then, for the
	// rounds learnt beyond them, yields the CPU (sched_yield) between
	// looks: on an idle machine that is a spin of a microsecond or so a
	// look; on a loaded one the peer it waits for, or whoever needs the
	// CPU, runs instead of a spinner. Measured on a 2-core machine at a
	// load average of 10, a pipe ping-pong that relaxed through its
	// learnt rounds had a p50 of 26-30 µs against 18 µs for the fixed
	// spin: it held the CPU that its peer's reply was waiting for.
	Yielding
)

// FirstPark is how long the rings', queues' and pipes' waiters sleep in
// the kernel at first, before they re-check their condition once and sleep
// for their poll period. Their notifiers publish with a release store (a
// plain MOV on amd64) and then load the waiter word, and x86 may satisfy
// that load before the store is visible: a waiter that registers and
// re-checks in that instant misses both the data and the wake. The first
// park bounds what such a lost wake costs; a waiter woken in time never
// sees it, and one that sleeps for long pays one more futex wait.
const FirstPark = 100 * time.Microsecond

// MaxYielding bounds the rounds of a Yielding spin beyond its base in
// time: on a loaded machine one sched_yield can last a time slice of
// somebody else, and a waiter must park (and look at its context and its
// peers) within a bounded time.
const MaxYielding = 200 * time.Microsecond

// Spin looks at ready up to base times, or as many as a learnt (a nil a
// spins the base and learns nothing), pausing between looks as p says.
// It reports whether ready held; when it did not, the caller parks and
// then tells a how the park went (Parked). ready must be cheap, a load or
// two: it runs in a tight loop.
func (a *Adaptive) Spin(base int, p Pause, ready func() bool) (Spell, bool) {
	s := Spell{base: base, rounds: base}
	var row int32 // a's count of waits that ended just after a yield that gave the CPU away
	if a != nil {
		s.rounds = max(base, int(a.rounds.Load()))
		if row = a.away.Load(); row >= AwayWaits && p == Yielding && a.away.Swap(0) >= AwayWaits {
			s.rounds, s.apart, row = base, true, 0 // park after the base: see YieldAway
		}
	}
	var yieldEnd int64 // Yielding: when the rounds beyond the base stop, whatever is left
	var now int64      // Yielding: the clock after the last yield
	away := false      // the last yield gave the CPU away
	for i := 0; i < s.rounds; i++ {
		if ready() {
			if a != nil {
				a.endedAfterYield(away, row)
			}
			return s, true
		}
		switch {
		case p == Yielding && i >= base:
			if yieldEnd == 0 {
				now = Now()
				yieldEnd = now + int64(MaxYielding)
			} else if now >= yieldEnd {
				s.rounds = i // for Parked: the rounds made
				return s, false
			}
			yield()
			before := now
			now = Now()
			away = now-before >= int64(YieldAway)
		case p != Tight:
			Relax()
		}
		if i == ClockRound && a != nil {
			s.clocked = Now()
		}
	}
	return s, false
}

// Parked teaches a the wait that followed spell s: it parked at t0 (Now)
// until now, and a wake ended it or something else did (a deadline, a
// poll period).
func (a *Adaptive) Parked(s Spell, t0 int64, woken bool) {
	if a == nil {
		return
	}
	if a.away.Load() != 0 {
		a.away.Store(0) // a park ends the row
	}
	if s.apart {
		return // its length is the peer's, not a gap the spin could have covered
	}
	st := Stats{Parked: time.Duration(Now() - t0), Woken: woken}
	if s.clocked != 0 {
		st.Spun, st.Rounds = time.Duration(t0-s.clocked), s.rounds-ClockRound-1
	}
	a.Learn(s.base, st)
}

// PollDue is when a parked waiter's next poll (the look at its peers that
// its poll period paces) is owed, however often it is woken. atomics.Await
// runs a waiter's Check only when a sleep lasts the whole poll period, and
// a wake that changes nothing the waiter waits for (a publication behind
// a dead producer's slot, another process's cancelled wait) ends a sleep
// early: a waiter woken more often than its poll period never polled, and
// never learnt that a peer was dead (TestRescueDespiteWakesInVain in
// package ringbuf, TestEventCheckDespiteSpuriousWakes in internal/notify).
// The zero value owes nothing yet. It is the waiter's own, not for
// concurrent use.
type PollDue struct{ at int64 } // Now when the poll is owed; 0 before the first park

// Park is the waiter's park at now (Now): the first, or one long after the
// last poll was owed, owes one a period from now.
func (d *PollDue) Park(now int64, period time.Duration) {
	if d.at == 0 || now-d.at > int64(period) {
		d.at = now + int64(period)
	}
}

// Owed reports whether the poll is owed at now.
func (d *PollDue) Owed(now int64) bool { return d.at != 0 && now >= d.at }

// Polled records a poll made at now: the next is owed a period later.
func (d *PollDue) Polled(now int64, period time.Duration) { d.at = now + int64(period) }

// start anchors Now.
var start = time.Now()

// Now is a monotonic clock in nanoseconds.
func Now() int64 { return int64(time.Since(start)) }
