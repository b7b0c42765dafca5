package ringbuf

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestRescueDespiteWakesInVain: a producer is killed holding the head slot
// of an MPMC ring it claimed and never filled, and a live producer then
// puts a message every 2 ms behind it. Each publication wakes the parked
// consumer, which finds the head slot still empty and parks again: its
// rescue of the dead producer's slot must still come every poll period
// (50 ms), not only once a whole period passes without a wake, which on a
// ring this size would take the live producer over half a minute of
// publications to bring about (the ring full, the producer blocked).
func TestRescueDespiteWakesInVain(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	flag := shmtest.Segment(t, 64)
	const slots = 1 << 14
	c, err := NewMPMC(seg, "m", slots, 8, WithProducers(4), WithPoll(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := OpenMPMC(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 15*time.Second))
	defer cancel()
	child, err := putHeldW.Start(ctx, putHeldArgs{R: c, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "the child did not claim its slot")
	child.Kill()
	child.Wait()

	// The live producer: a message every 2 ms, well within the poll
	// period, 2000 at most (40 poll periods); if the consumer has got
	// nothing by then, it gives up and ends the consumer's Get.
	getCtx, endGet := context.WithCancel(ctx)
	defer endGet()
	var exhausted atomic.Bool
	puts := make(chan error, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 2000; i++ {
			select {
			case <-getCtx.Done():
				puts <- nil
				return
			case <-tick.C:
			}
			if err := p.Put(ctx, []byte("live")); err != nil {
				puts <- err
				return
			}
		}
		exhausted.Store(true)
		endGet()
		puts <- nil
	}()
	buf := make([]byte, 8)
	n, err := c.Get(getCtx, buf)
	endGet()
	if perr := <-puts; perr != nil {
		t.Errorf("live producer: %v", perr)
	}
	if exhausted.Load() {
		t.Fatalf("Get behind the dead producer's slot still waiting after 2000 puts, 40 poll periods (then %q, %v)", buf[:n], err)
	}
	if err != nil || string(buf[:n]) != "live" {
		t.Fatalf("Get behind the dead producer's slot = %q, %v; want \"live\"", buf[:n], err)
	}
}
