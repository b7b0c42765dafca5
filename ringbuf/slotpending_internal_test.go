package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type staleEnqArgs struct {
	R    *MPMC
	Flag *shm.Segment
}

// staleEnqClaimW stores an MPMC enqueue claim as a Put does before its
// CAS on enqueue (its claim word at the next position), says so in Flag
// and waits to be killed before the CAS: a producer killed after it lost
// its CAS to another leaves such a claim, over the winner's slot.
var staleEnqClaimW = process.Register("ringbuf-stale-enq-claim", func(ctx context.Context, a staleEnqArgs) error {
	r := a.R
	if err := r.AttachProducer(); err != nil {
		return err
	}
	r.parts.word(r.part, partOffEnqClaim).Store(r.enq.Load() + 1)
	flag := atomics.MustUint32At(a.Flag.Bytes(), 0)
	flag.Store(1)
	atomics.Wake(flag, -1)
	select {}
})

// TestMPMCGetWaitsForLiveClaimant: of two participant slots, one is a
// live producer's that has claimed position 0 and not yet filled it, the
// other a dead producer's whose stale claim covers the same position.
// That slot cannot be taken (nor the position given up) while the live
// producer fills it: a new handle's Get must wait (until its context
// ends; TryGet reports an empty ring), and once the live producer has
// published, take the slot and get the message.
func TestMPMCGetWaitsForLiveClaimant(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	flag := shmtest.Segment(t, 64)
	c, err := NewMPMC(seg, "m", 4, 8, WithProducers(2), WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AttachProducer(); err != nil { // slot 0
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()
	child, err := staleEnqClaimW.Start(ctx, staleEnqArgs{R: c, Flag: flag}) // slot 1
	if err != nil {
		t.Fatal(err)
	}
	fw := atomics.MustUint32At(flag.Bytes(), 0)
	for fw.Load() == 0 {
		if err := atomics.Await(ctx, fw, 0, nil); err != nil {
			t.Fatalf("the child did not get there: %v", err)
		}
	}
	child.Kill()
	child.Wait()
	c.putMu.Lock()
	pos, ok, err := c.tryClaimPut() // the live winner of position 0
	if !ok || err != nil || pos != 0 {
		t.Fatalf("claim: %d, %v, %v", pos, ok, err)
	}

	g, err := OpenMPMC(seg, "m", WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = g.Get(short, make([]byte, 8))
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		c.putMu.Unlock()
		t.Fatalf("Get while the only slot to take covers a live producer's claim: %v; want it to wait until its context ends", err)
	}
	if n, ok, err := g.TryGet(make([]byte, 8)); ok || err != nil {
		c.putMu.Unlock()
		t.Fatalf("TryGet meanwhile: %d, ok %v, err %v; want ok false (empty now), no error", n, ok, err)
	}
	got := make(chan error, 1)
	buf := make([]byte, 8)
	go func() {
		n, err := g.Get(ctx, buf)
		if err == nil && string(buf[:n]) != "x" {
			err = errors.New("got " + string(buf[:n]) + ", want x")
		}
		got <- err
	}()
	copy(c.payload(pos), "x")
	c.publishPut(pos, 1)
	c.putMu.Unlock()
	if err := <-got; err != nil {
		t.Fatalf("Get once the live producer published: %v", err)
	}
	if err := Sane(c); err != nil {
		t.Fatal(err)
	}
}
