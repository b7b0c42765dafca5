package semaphore_test

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// Parked wake layout: words of an anonymous segment, each written by one
// side, on lines of their own.
//
//	off  word      written by  read by
//	  0  flag      parent      child    the bare futex of the floor (0 clear, 1 set)
//	 64  sleeping  child       parent   floor: 1 from before FUTEX_WAIT until woken
//	128  woke      child       parent   CLOCK_MONOTONIC ns at which the child ran again
//	192  rounds    child       parent   rounds the child finished
const (
	pkOffFlag     = 0
	pkOffSleeping = shm.CacheLine
	pkOffWoke     = 2 * shm.CacheLine
	pkOffRounds   = 3 * shm.CacheLine
)

// pkSettle is how long the parent lets a waiter that announced its sleep
// get into the kernel before it wakes it: the figure is the wake-to-run
// latency of a sleeping process, not of one still on its way to sleep.
// Pacing, not synchronisation: a waker that comes early finds the waiter
// awake and the round simply measures less.
const pkSettle = 30_000 // ns

type parkArgs struct {
	Seg    *shm.Segment
	E      *semaphore.Event // nil: the bare futex floor
	Rounds int
	Paired bool // rounds in pairs, one on E and one on the bare futex (pairedEventRound)
}

// pairedEventRound reports whether round i (from 1) of a paired run is
// the Event's: each pair of rounds has one of each, the Event first in
// odd pairs and second in even ones, so that neither always follows the
// other.
func pairedEventRound(i int) bool { return (i%2 == 1) == ((i+1)/2%2 == 1) }

// monoNow is CLOCK_MONOTONIC, one clock for both processes.
func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// parkWaiter waits Rounds times, on the Event or on the bare futex, and
// records when it ran again after each wake.
var parkWaiter = process.Register("sem-park-waiter", func(ctx context.Context, a parkArgs) error {
	mem := a.Seg.Bytes()
	flag := atomics.MustUint32At(mem, pkOffFlag)
	sleeping := atomics.MustUint32At(mem, pkOffSleeping)
	woke := atomics.MustUint64At(mem, pkOffWoke)
	rounds := atomics.MustUint64At(mem, pkOffRounds)
	for i := 1; i <= a.Rounds; i++ {
		if a.E != nil && (!a.Paired || pairedEventRound(i)) {
			if !a.E.WaitContext(ctx) {
				return ctx.Err()
			}
			woke.Store(uint64(monoNow()))
			a.E.Clear()
		} else {
			sleeping.Store(1)
			for flag.Load() == 0 {
				_ = atomics.Wait(flag, 0, 0)
			}
			woke.Store(uint64(monoNow()))
			sleeping.Store(0)
			flag.Store(0)
		}
		rounds.Store(uint64(i)) // publishes: round i done, woke written
	}
	return nil
})

// BenchmarkEventWakeParked: wake-to-run latency of a waiter that is asleep
// in the kernel, from the waker's call to the waiter running again, in
// another process: Event.Set against a waiter parked in WaitContext
// (event), beside a bare FUTEX_WAKE against a bare FUTEX_WAIT (futex-floor)
// measured the same way in the same run. The waker waits until the waiter
// has announced its sleep (the Event's sleepers count, the floor's
// sleeping word) and pkSettle more, so that every round is a real park;
// BenchmarkEventWake is the ping-pong where the Event's spin may avoid it.
//
// paired alternates the two in one run, round by round (pairs of an
// Event round and a bare one, in turn first), and reports each p50 and
// their ratio; its ns/op is a pair's: this VM's
// wake-to-run latency drifts between states that last seconds, so two
// runs one after the other can differ by more than the Event's own cost,
// either way.
func BenchmarkEventWakeParked(b *testing.B) {
	b.Run("event", func(b *testing.B) { benchWakeParked(b, true, false) })
	b.Run("futex-floor", func(b *testing.B) { benchWakeParked(b, false, false) })
	b.Run("paired", func(b *testing.B) { benchWakeParked(b, true, true) })
}

func benchWakeParked(b *testing.B, event, paired bool) {
	seg, err := shm.CreateAnon(1 << 16)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	mem := seg.Bytes()
	flag := atomics.MustUint32At(mem, pkOffFlag)
	sleeping := atomics.MustUint32At(mem, pkOffSleeping)
	woke := atomics.MustUint64At(mem, pkOffWoke)
	rounds := atomics.MustUint64At(mem, pkOffRounds)
	nRounds := b.N
	if paired {
		nRounds = 2 * b.N
	}
	a := parkArgs{Seg: seg, Rounds: nRounds, Paired: paired}
	floorAsleep := func() bool { return sleeping.Load() != 0 }
	var eventAsleep func() bool
	if event {
		e, err := semaphore.NewEvent()
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		a.E = e
		eventAsleep = func() bool { return semaphore.EventSleepers(e) != 0 }
	}
	ctx := context.Background()
	p, err := parkWaiter.Start(ctx, a)
	if err != nil {
		b.Fatal(err)
	}
	lat, floorLat := benchutil.NewLatency(), benchutil.NewLatency()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= a.Rounds; i++ {
		onEvent := event && (!paired || pairedEventRound(i))
		asleep := floorAsleep
		if onEvent {
			asleep = eventAsleep
		}
		if !spinUntil(p, asleep) {
			b.Fatalf("waiter exited: %v", p.Wait())
		}
		for settle := monoNow() + pkSettle; monoNow() < settle; {
		}
		t0 := monoNow()
		if onEvent {
			a.E.Set()
		} else {
			flag.Store(1)
			atomics.Wake(flag, 1)
		}
		if !spinUntil(p, func() bool { return rounds.Load() == uint64(i) }) {
			b.Fatalf("waiter exited: %v", p.Wait())
		}
		if onEvent || !paired {
			lat.RecordNanos(int64(woke.Load()) - t0)
		} else {
			floorLat.RecordNanos(int64(woke.Load()) - t0)
		}
	}
	b.StopTimer()
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
	lat.Report(b)
	if paired {
		fp50 := floorLat.Percentile(50)
		// futex-: the bare futex's wake, not the shared-memory floor
		// that other benchmarks report as floor-p50-ns.
		b.ReportMetric(float64(fp50.Nanoseconds()), "futex-floor-p50-ns")
		b.ReportMetric(float64(floorLat.Percentile(99).Nanoseconds()), "futex-floor-p99-ns")
		if fp50 > 0 {
			b.ReportMetric(float64(lat.Percentile(50))/float64(fp50), "event/floor-p50")
		}
	}
}

// spinUntil spins, yielding the CPU, until cond holds (true) or p has
// exited (false).
func spinUntil(p *process.Process, cond func() bool) bool {
	for n := 0; !cond(); n++ {
		if n%1024 == 1023 && !p.Alive() {
			return cond()
		}
		spin.Yield() // the waiter may need this CPU
	}
	return true
}
