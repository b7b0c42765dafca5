package benchutil

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/shm"
)

// Floor's rounds: floorBursts bursts of floorRounds round trips. The
// first round to start past floorBudget is the last (a loaded machine's
// time slices would otherwise stretch the rounds to seconds); that bounds
// the rounds, not the whole call, whose start, last round and stop each
// wait for the other thread to run.
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
	_    [2 * shm.CacheLine]byte
	ping atomic.Uint32 // the round the pinger asks for; floorStop ends the ponger
	_    [2 * shm.CacheLine]byte
	pong atomic.Uint32 // the last round the ponger answered
	_    [2 * shm.CacheLine]byte
}

// Floor returns this machine's shared-memory floor as it is now: the
// median round trip between two threads that spin on each other's cache
// line, each held to a CPU of its own (two this thread may run on, not
// hyperthreads of one core where the machine says which are), as
// bench.ShmPingPong measures between two processes. A VM's floor moves
// between states that last seconds to minutes, and every figure of a
// handoff moves with it, so a figure is read beside the floor of its own
// run (ReportFloor). Left to the scheduler, the two threads at times
// shared one CPU for many milliseconds (a new thread starts where its
// creator ran), and measured its time slices: 6-13 µs against 120-600 ns.
// It returns the least median of its whole bursts (the first pays for
// the start of the other thread; a burst cut short by the budget counts
// only when no burst is whole), and 0 where two CPUs are not to be had
// (GOMAXPROCS under 2, one CPU allowed). Every thread keeps the CPUs it
// had.
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
	cpus, ok := twoCPUs(&had)
	if !ok || pinTo(cpus[0]) != nil {
		return 0
	}
	defer restoreCPUs(&had)
	l := new(floorLines)
	done := make(chan struct{})
	go func() {
		defer close(done) // after the thread is unpinned and unlocked
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var own unix.CPUSet
		if unix.SchedGetaffinity(0, &own) != nil || pinTo(cpus[1]) != nil {
			l.pong.Store(floorStop - 1) // publishes: no floor to be had
			return
		}
		// Restored, then unlocked, before done: unlocked while pinned,
		// the thread would run other goroutines on one CPU; left locked,
		// it would end with this goroutine, but for the main thread,
		// which the runtime parks for good instead, still pinned.
		defer restoreCPUs(&own)
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
	var best time.Duration
	whole := false // best is a whole burst's (a cut burst is the last)
	lat := NewLatency()
	deadline := time.Now().Add(floorBudget)
	round := uint32(0)
	for burst, over := 0, false; burst < floorBursts && !over; burst++ {
		lat.reset()
		i := 0
		for ; i < floorRounds && !over; i++ {
			round++
			t0 := time.Now()
			l.ping.Store(round) // publishes: the next round
			await(&l.pong, round)
			lat.Record(time.Since(t0))
			over = t0.After(deadline)
		}
		p := lat.Percentile(50)
		switch {
		case i == floorRounds && (!whole || p < best):
			best, whole = p, true
		case burst == 0:
			best = p // cut short, and the only burst there will be
		}
	}
	l.ping.Store(floorStop)
	<-done
	return max(best, time.Nanosecond) // a clock too coarse for one round still says it ran
}

// twoCPUs returns two CPUs of set for Floor's threads: the first, and the
// first after it that is not a hyperthread of the same core (the next in
// set where the machine does not say).
func twoCPUs(set *unix.CPUSet) ([2]int, bool) {
	first, next := -1, -1
	var siblings map[int]bool
	for c := 0; c < cpuSetBits; c++ {
		switch {
		case !set.IsSet(c):
		case first < 0:
			first = c
			siblings = cpuList("/sys/devices/system/cpu/cpu" + strconv.Itoa(c) + "/topology/thread_siblings_list")
		case !siblings[c]:
			return [2]int{first, c}, true
		case next < 0:
			next = c
		}
	}
	return [2]int{first, next}, next >= 0
}

// cpuSetBits is the CPUs a unix.CPUSet holds (the kernel's CPU_SETSIZE).
const cpuSetBits = 1024

// cpuList reads a kernel CPU list ("0-3,8") into a set; empty where the
// file cannot be read.
func cpuList(path string) map[int]bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for c := a; c <= z && c-a < 4096; c++ {
			m[c] = true
		}
	}
	return m
}

// pinTo holds the calling thread to CPU c.
func pinTo(c int) error {
	var one unix.CPUSet
	one.Set(c)
	return unix.SchedSetaffinity(0, &one)
}

// restoreCPUs gives the calling thread the CPUs of set back, or, where
// that fails (the CPUs it may use shrank meanwhile), every CPU it may
// use: the kernel keeps a thread to its cpuset whatever it asks for.
func restoreCPUs(set *unix.CPUSet) {
	if unix.SchedSetaffinity(0, set) == nil {
		return
	}
	var all unix.CPUSet
	for c := 0; c < cpuSetBits; c++ {
		all.Set(c)
	}
	_ = unix.SchedSetaffinity(0, &all)
}

// await spins until w holds v, giving way now and then.
func await(w *atomic.Uint32, v uint32) {
	for spins := 0; w.Load() != v; spins++ { // observes: the other thread's store
		if spins&floorSpins == floorSpins {
			giveWay()
		}
	}
}

// giveWay lets the other thread of Floor run where it shares this one's
// CPU or P.
func giveWay() {
	runtime.Gosched()
	spin.YieldToRuntime()
}

// ReportFloor measures Floor now and reports it as floor-p50-ns when the
// benchmark function returns (b.Cleanup: ResetTimer drops the metrics
// reported before it). Call it at the start of a benchmark function,
// before the benchmark starts its peers and before ResetTimer, so that
// its figures carry the floor of their own run and its time is not
// theirs. It runs at every call of the function (each of the testing
// package's calls that size b.N); the figure printed is the last call's.
// It takes about a millisecond on an idle machine, 5-20 ms beside busy
// loops on every CPU (once in a while much more: a thread that waits for
// a CPU waits for the time slices of whatever holds it).
func ReportFloor(b *testing.B) {
	if f := Floor(); f > 0 {
		b.Cleanup(func() { b.ReportMetric(float64(f.Nanoseconds()), "floor-p50-ns") })
	}
}
