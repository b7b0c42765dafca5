//go:build linux

package spin_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/spin"
)

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
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		t.Skipf("sched_getaffinity: %v", err)
	}
	cpu := 0
	for !mask.IsSet(cpu) {
		cpu++
	}
	var one unix.CPUSet
	one.Set(cpu)
	// pin pins the calling goroutine's thread to cpu, and returns what
	// unpins it: the thread goes back to the runtime with the CPUs it had,
	// or, if that fails, stays locked, which ends it with its goroutine
	// (or parks it, the main thread).
	pin := func() (func(), error) {
		runtime.LockOSThread()
		var had unix.CPUSet
		if err := unix.SchedGetaffinity(0, &had); err != nil {
			return func() {}, err
		}
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return func() {}, err
		}
		return func() {
			if unix.SchedSetaffinity(0, &had) == nil {
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
