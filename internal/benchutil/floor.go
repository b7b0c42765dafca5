package benchutil

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Floor's rounds: floorBursts bursts of floorRounds round trips, within
// floorBudget (a loaded machine's time slices would otherwise stretch the
// measure to seconds: it then stops where the budget ends, and reports
// what it saw).
const (
	floorBursts = 5
	floorRounds = 400
	floorBudget = 20 * time.Millisecond
	// floorSpins+1 failed looks (microseconds, far above a round trip
	// between idle cores) make a spinner give up its CPU once: the other
	// thread may share it.
	floorSpins = 1<<12 - 1
	floorStop  = ^uint32(0)
)

// floorLines are the two words of Floor, each written by one thread, at
// least two lines apart whatever the allocation's alignment. Rounds run
// from 1 up, far below floorStop-1 (the ponger's "no CPU" answer).
type floorLines struct {
	_    [2 * 64]byte
	ping atomic.Uint32 // the round the pinger asks for; floorStop ends the ponger
	_    [2 * 64]byte
	pong atomic.Uint32 // the last round the ponger answered
	_    [2 * 64]byte
}

// Floor returns this machine's shared-memory floor as it is now: the
// median round trip of one cache line between two threads that spin on
// it, each held to a CPU of its own (the first two this thread may run
// on), as bench.ShmPingPong measures between two processes. A VM's floor
// moves between states that last seconds to minutes, and every figure of
// a handoff moves with it, so a figure is read beside the floor of its
// own run (ReportFloor). Left to the scheduler, the two threads at times
// shared one CPU for many milliseconds (a new thread starts where its
// creator ran), and measured its time slices: 6-13 µs against 120-600 ns.
// The least median of a few short bursts (the first pays for the start
// of the other thread). It returns 0 where two CPUs
// are not to be had (GOMAXPROCS under 2, one CPU allowed).
func Floor() time.Duration {
	if runtime.GOMAXPROCS(0) < 2 {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var had unix.CPUSet
	if unix.SchedGetaffinity(0, &had) != nil {
		return 0
	}
	cpus := make([]int, 0, 2)
	for c := 0; c < len(had)*64 && len(cpus) < 2; c++ {
		if had.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 || pinTo(cpus[0]) != nil {
		return 0
	}
	defer unix.SchedSetaffinity(0, &had) // this thread goes back to the goroutines it ran
	l := new(floorLines)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Locked and never unlocked: the thread, pinned, ends with the
		// goroutine instead of running others.
		runtime.LockOSThread()
		if pinTo(cpus[1]) != nil {
			l.pong.Store(floorStop - 1) // publishes: no floor to be had
			return
		}
		l.pong.Store(floorStop) // publishes: the ponger runs
		last := uint32(0)       // ping before the first round
		for spins := 0; ; spins++ {
			v := l.ping.Load() // observes: the pinger's round
			if v == last {
				if spins&floorSpins == floorSpins {
					giveWay()
				}
				continue
			}
			if v == floorStop {
				return
			}
			l.pong.Store(v) // publishes: round v answered
			last = v
		}
	}()
	for l.pong.Load() < floorStop-1 { // observes: the ponger's start
		giveWay()
	}
	if l.pong.Load() != floorStop {
		<-done
		return 0
	}
	best := time.Duration(0)
	deadline := time.Now().Add(floorBudget)
	round := uint32(0)
	for burst, over := 0, false; burst < floorBursts && !over; burst++ {
		lat := NewLatency()
		for i := 0; i < floorRounds && !over; i++ {
			round++
			t0 := time.Now()
			l.ping.Store(round) // publishes: the next round
			await(&l.pong, round)
			lat.Record(time.Since(t0))
			over = t0.After(deadline)
		}
		if p := lat.Percentile(50); best == 0 || p < best {
			best = p
		}
	}
	l.ping.Store(floorStop)
	<-done
	return best
}

// pinTo holds the calling thread to CPU c.
func pinTo(c int) error {
	var one unix.CPUSet
	one.Set(c)
	return unix.SchedSetaffinity(0, &one)
}

// await spins until w holds v, giving way now and then.
func await(w *atomic.Uint32, v uint32) {
	for spins := 0; w.Load() != v; spins++ { // observes: the ponger's answer
		if spins&floorSpins == floorSpins {
			giveWay()
		}
	}
}

// giveWay lets the other thread of Floor run where it shares this one's
// CPU or P.
func giveWay() {
	runtime.Gosched()
	unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

// ReportFloor measures Floor now and reports it as floor-p50-ns when the
// benchmark function returns (b.Cleanup: ResetTimer drops the metrics
// reported before it). Call it at the start of a benchmark function,
// before the benchmark starts its peers, so that its figures carry the
// floor of their own run; it takes about a millisecond, outside the timed
// part when it comes before ResetTimer.
func ReportFloor(b *testing.B) {
	if f := Floor(); f > 0 {
		b.Cleanup(func() { b.ReportMetric(float64(f.Nanoseconds()), "floor-p50-ns") })
	}
}
