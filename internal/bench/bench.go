package bench

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// Sizes are the message sizes the shmkit benchmarks report, so that a
// figure always has a baseline of the same size beside it.
var Sizes = []int{8, 64, 1024, 16 << 10}

// Floor layout: three 32-bit words in an anonymous segment, each on its own
// cache line because each has one writer.
//
//	off  word   written by  read by
//	  0  ping   parent      peer     round number; floorStop ends the peer
//	 64  pong   peer        parent   the last round the peer answered
//	128  ready  peer        parent   1 once the peer is in its loop
const (
	offPing   = 0
	offPong   = shm.CacheLine
	offReady  = 2 * shm.CacheLine
	floorStop = ^uint32(0)
)

// spinBudget+1 failed checks (some microseconds, far above a round trip on
// idle cores) make a spinner yield its core once. On a quiet machine it never
// happens; on a busy one it keeps the floor from measuring time slices.
const spinBudget = 1<<12 - 1

type floorArgs struct {
	Seg   *shm.Segment
	Futex bool // park on the futex (FutexPingPong) instead of spinning (ShmPingPong)
}

var floorPeer = process.Register("shmkit-bench-floor-peer", func(ctx context.Context, a floorArgs) error {
	mem := a.Seg.Bytes()
	ping := atomics.MustUint32At(mem, offPing)
	pong := atomics.MustUint32At(mem, offPong)
	ready := atomics.MustUint32At(mem, offReady)
	ready.Store(1) // publishes: the peer is looping
	atomics.Wake(ready, -1)
	last := uint32(0)
	for spins := 0; ; spins++ {
		v := ping.Load() // observes: the parent's round number
		if v == last {
			if a.Futex {
				atomics.Wait(ping, last, 0)
			} else if spins&spinBudget == spinBudget {
				schedYield() // the parent may share our core: let it run
			}
			continue
		}
		if v == floorStop {
			return nil
		}
		pong.Store(v) // publishes: round v answered
		if a.Futex {
			atomics.Wake(pong, 1)
		}
		last = v
	}
})

// ShmPingPong measures the floor of any shared-memory handoff: a round trip
// of a cache line between two processes that both spin (no syscall). Each
// op is one round trip. It keeps two cores busy while it runs.
func ShmPingPong(b *testing.B) { floorPingPong(b, false) }

// FutexPingPong measures the floor of a blocking handoff: a round trip
// between two processes that each sleep in FUTEX_WAIT until the other's
// FUTEX_WAKE, so one op is two wake-to-run latencies plus two wake calls.
// It uses the raw atomics.Wait/Wake with no spinning phase.
func FutexPingPong(b *testing.B) { floorPingPong(b, true) }

func floorPingPong(b *testing.B, futex bool) {
	seg, err := shm.CreateAnon(3 * shm.CacheLine)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	mem := seg.Bytes()
	ping := atomics.MustUint32At(mem, offPing)
	pong := atomics.MustUint32At(mem, offPong)
	ready := atomics.MustUint32At(mem, offReady)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := floorPeer.Start(ctx, floorArgs{Seg: seg, Futex: futex})
	if err != nil {
		b.Fatal(err)
	}
	stop := func() {
		ping.Store(floorStop) // publishes: the end of the run
		atomics.Wake(ping, -1)
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	for ready.Load() == 0 { // observes: the peer is looping
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		atomics.Await(wctx, ready, 0, nil)
		wcancel()
		if !p.Alive() {
			b.Fatal(p.Wait())
		}
	}

	lat := benchutil.NewLatency()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 1; i <= b.N; i++ {
		round := uint32(i)
		t0 := time.Now()
		ping.Store(round) // publishes: round i
		if futex {
			atomics.Wake(ping, 1)
		}
		for spins := 0; ; spins++ {
			v := pong.Load() // observes: the peer's answer
			if v == round {
				break
			}
			if futex {
				if atomics.Wait(pong, v, time.Second) == atomics.ErrTimeout && !p.Alive() {
					b.Fatalf("peer died: %v", p.Wait())
				}
			} else if spins&spinBudget == spinBudget {
				if !p.Alive() {
					b.Fatalf("peer died: %v", p.Wait())
				}
				schedYield() // the peer may share our core: let it run
			}
		}
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, 0, elapsed)
	lat.Report(b)
	stop()
}

// CopyBandwidth measures copy of size bytes within one process: the
// ceiling for any transport that copies a message once. Each op is one copy.
func CopyBandwidth(b *testing.B, size int) {
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		copy(dst, src)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, size, elapsed)
}
