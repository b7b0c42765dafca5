package ringbuf

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type putHeldArgs struct {
	R    *MPMC
	Flag *shm.Segment
}

// putHeldW claims a slot with PutFunc and waits inside fill to be killed:
// a producer that dies holding a claimed, unfilled slot.
var putHeldW = process.Register("ringbuf-put-held", func(ctx context.Context, a putHeldArgs) error {
	return a.R.PutFunc(ctx, func([]byte) int {
		holdForKill(a.Flag)
		return 0
	})
})

// TestRescueSkipLostLeavesNoClaim: a producer's rescue (skipDeadHead)
// gives up the head slot of a producer killed holding it, and loses its
// CAS on dequeue to a consumer that claimed the slot meanwhile. The
// rescuer holds nothing then, and its dequeue claim word must say so: left
// at the slot's position + 1, it covers the consumer's slot for as long
// as the rescuer lives (a producer-only handle never claims on dequeue
// again), and should that consumer die before giving the slot back, the
// adopter's look for a live holder (liveHolder) finds the rescuer and
// leaves the slot to it, for ever: the ring fills up to that slot and
// stays full.
func TestRescueSkipLostLeavesNoClaim(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	flag := shmtest.Segment(t, 64)
	p, err := NewMPMC(seg, "m", 4, 8, WithProducers(4), WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.AttachProducer(); err != nil { // slot 0: the rescuer
		t.Fatal(err)
	}
	c1, err := OpenMPMC(seg, "m", WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := OpenMPMC(seg, "m", WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	buf := make([]byte, 8)
	for _, c := range []*MPMC{c1, c2} { // the consumers' side shared: the rescue CASes without a join
		if _, ok, err := c.TryGet(buf); ok || err != nil {
			t.Fatalf("TryGet on the empty ring: %v, %v", ok, err)
		}
	}
	if m := p.deqSole.mode.Load(); m != soleShared {
		t.Fatalf("deqSole %#x after two consumers' claims, want shared", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()
	child, err := putHeldW.Start(ctx, putHeldArgs{R: p, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "the child did not claim its slot")
	child.Kill()
	child.Wait()

	// Between the rescuer's look at the dead claim and its own give-up,
	// another rescuer gives the slot up and c1 claims it (and is to die
	// holding it).
	c1.getMu.Lock()
	var claimed bool
	mpmcAbandonHook = func(pos uint64, stage int) {
		if stage != 1 || claimed {
			return
		}
		claimed = true
		p.seq(pos).CompareAndSwap(pos, pos+1) // another rescuer's give-up
		if got, ok, err := c1.tryClaimGet(context.Background()); !ok || err != nil || got != pos {
			t.Errorf("c1's claim of the given-up slot: %d, %v, %v; want %d", got, ok, err, pos)
		}
	}
	defer func() { mpmcAbandonHook = nil }()
	if _, err := (*mpmcX)(p).RescueFull(); err != nil {
		t.Fatal(err)
	}
	mpmcAbandonHook = nil
	if !claimed {
		t.Fatal("the rescue never gave up the dead producer's slot")
	}
	w, held := p.parts.word(p.part, partOffDeqClaim).Load(), p.liveHolder(0, 1, c1.part)
	c1.skipGivenUp(0)
	c1.getMu.Unlock()
	if w != 0 || held {
		t.Fatalf("after its lost skip the rescuer's dequeue claim word is %d, and a live participant other than c1 "+
			"holds position 0: %v; want 0 and none (a dead c1's slot would never be adopted)", w, held)
	}
	if err := Sane(p); err != nil {
		t.Fatal(err)
	}
}
