package atomics_test

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// Ping-pong words, each on its own cache line: ping is the parent's round
// number (awaitStop ends the peer), pong the last round the peer answered.
const (
	offPing   = 0
	offPong   = shm.CacheLine
	awaitStop = ^uint32(0)
)

type awaitArgs struct {
	Seg  *shm.Segment
	Spin int
}

// awaitPeer answers each round through Await in park mode.
var awaitPeer = process.Register("atomics-bench-await-peer", func(ctx context.Context, a awaitArgs) error {
	ping := atomics.MustUint32At(a.Seg.Bytes(), offPing)
	pong := atomics.MustUint32At(a.Seg.Bytes(), offPong)
	opts := &atomics.WaitOptions{Spin: a.Spin}
	for last := uint32(0); ; {
		v := ping.Load() // observes: the parent's round
		if v == last {
			if err := atomics.Await(ctx, ping, last, opts); err != nil {
				return err
			}
			continue
		}
		if v == awaitStop {
			return nil
		}
		pong.Store(v) // publishes: round v answered
		atomics.Wake(pong, 1)
		last = v
	}
})

// benchmarkAwaitPingPong measures a round trip between two processes that
// each wait through atomics.Await: with spin < 0 every wait parks, so one op
// is two futex wake-to-run latencies through Await's sleeper machinery.
func benchmarkAwaitPingPong(b *testing.B, spin int) {
	s, err := shm.CreateAnon(2 * shm.CacheLine)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ping := atomics.MustUint32At(s.Bytes(), offPing)
	pong := atomics.MustUint32At(s.Bytes(), offPong)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := awaitPeer.Start(ctx, awaitArgs{Seg: s, Spin: spin})
	if err != nil {
		b.Fatal(err)
	}
	opts := &atomics.WaitOptions{Spin: spin, Poll: time.Second, Check: func() error {
		if !p.Alive() {
			return p.Wait()
		}
		return nil
	}}
	round := func(r uint32) {
		ping.Store(r) // publishes: round r
		atomics.Wake(ping, 1)
		for {
			v := pong.Load() // observes: the peer's answer
			if v == r {
				return
			}
			if err := atomics.Await(ctx, pong, v, opts); err != nil {
				b.Fatal(err)
			}
		}
	}
	round(1) // the peer is up
	lat := benchutil.NewLatency()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		round(uint32(i + 2))
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	benchutil.ReportRate(b, b.N, 0, elapsed)
	lat.Report(b)
	ping.Store(awaitStop)
	atomics.Wake(ping, -1)
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWakeToRun: futex wake-to-run between two processes through
// Await, beside the raw futex ping-pong and the spinning floor, in one run.
// Compare await-park with floor-futex: the ratio is Await's overhead.
func BenchmarkWakeToRun(b *testing.B) {
	b.Run("floor-futex", bench.FutexPingPong)
	b.Run("await-park", func(b *testing.B) { benchmarkAwaitPingPong(b, -1) })
	b.Run("await-default", func(b *testing.B) { benchmarkAwaitPingPong(b, 0) })
	b.Run("floor-shm-spin", bench.ShmPingPong)
}
