package ringbuf

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

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
	return holdForKill(a.Flag)
})

// liveClaimantRing makes TestMPMCGetWaitsForLiveClaimant's ring: of its
// two participant slots, c's, which has claimed position pos (its putMu
// held) and not filled it, and a dead producer's whose stale claim covers
// the same position. ctx bounds the test.
func liveClaimantRing(t *testing.T) (*shm.Segment, *MPMC, uint64, context.Context) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	flag := shmtest.Segment(t, 64)
	c, err := NewMPMC(seg, "m", 4, 8, WithProducers(2), WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AttachProducer(); err != nil { // slot 0
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	t.Cleanup(cancel)
	child, err := staleEnqClaimW.Start(ctx, staleEnqArgs{R: c, Flag: flag}) // slot 1
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "the child did not get there")
	child.Kill()
	child.Wait()
	c.putMu.Lock()
	pos, ok, err := c.tryClaimPut(noWait) // the live winner of position 0
	if !ok || err != nil || pos != 0 {
		t.Fatalf("claim: %d, %v, %v", pos, ok, err)
	}
	return seg, c, pos, ctx
}

// TestMPMCWaitForSlotBesideAnother: a Get waiting for a participant slot
// (see TestMPMCGetWaitsForLiveClaimant) holds its handle's getMu while it
// waits; another goroutine's Get on that handle gives up when its own
// context ends, as behind a Get waiting for a message. It waited for the
// lock as long as the first Get did.
func TestMPMCWaitForSlotBesideAnother(t *testing.T) {
	seg, c, _, ctx := liveClaimantRing(t)
	defer c.Close()
	defer c.putMu.Unlock()
	g, err := OpenMPMC(seg, "m", WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	long, stop := context.WithCancel(ctx)
	defer stop()
	first := make(chan error, 1)
	go func() { _, err := g.Get(long, make([]byte, 8)); first <- err }()
	for g.getMu.state.Load() == 0 && g.getMu.held.Load() == 0 { // until it waits, holding getMu
		if ctx.Err() != nil {
			t.Fatal("the first Get never took its lock")
		}
		runtime.Gosched()
	}
	second := make(chan error, 1)
	go func() {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := g.Get(short, make([]byte, 8))
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second Get = %v, want its deadline", err)
		}
	case <-time.After(2 * time.Second):
		stop()
		<-second
		t.Errorf("a Get with a 20 ms deadline still waits after 2 s behind a Get waiting for a participant slot")
	}
	stop()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first Get = %v, want context.Canceled", err)
	}
}

// TestMPMCGetWaitsForLiveClaimant: of two participant slots, one is a
// live producer's that has claimed position 0 and not yet filled it, the
// other a dead producer's whose stale claim covers the same position.
// That slot cannot be taken (nor the position given up) while the live
// producer fills it: a new handle's Get must wait (until its context
// ends; TryGet reports an empty ring), and once the live producer has
// published, take the slot and get the message.
func TestMPMCGetWaitsForLiveClaimant(t *testing.T) {
	seg, c, pos, ctx := liveClaimantRing(t)
	defer c.Close()

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

// TestInheritRacesAnAdopter places inherit's race with an adopter by
// hand, on handles of one process (a closed one reads as departed): a
// consumer d departed holding position 0; x, a live consumer, has stored
// d's claim as its own to adopt it. A newcomer g that finds d's slot the
// only one to take must leave the message to x (TryGet: nothing now);
// once x has backed off, g takes the slot over and delivers the message,
// and x, looking again, finds nothing to adopt: delivered once.
func TestInheritRacesAnAdopter(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPMC(seg, "r", 4, 8, WithProducers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := OpenMPMC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	x, err := OpenMPMC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := d.AttachConsumer(); err != nil { // slot 0
		t.Fatal(err)
	}
	if err := x.AttachConsumer(); err != nil { // slot 1
		t.Fatal(err)
	}
	if ok, err := d.TryPut([]byte("M")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	d.parts.word(d.part, partOffDeqClaim).Store(1) // d claims position 0
	if !d.deq.CompareAndSwap(0, 1) {
		t.Fatal("deq")
	}
	d.Close()                                      // and departs holding it
	x.parts.word(x.part, partOffDeqClaim).Store(1) // x's adoption, before its look for other holders

	g, err := OpenMPMC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	buf := make([]byte, 8)
	if n, ok, err := g.TryGet(buf); ok || err != nil {
		t.Fatalf("TryGet while a live adopter holds the claim: %q, ok %v, err %v; want nothing now", buf[:n], ok, err)
	}
	if w := g.parts.owner(0).Load(); w != 0 {
		t.Fatalf("slot 0 owner %#x after the newcomer backed off, want 0 (as it found it)", w)
	}
	x.parts.word(x.part, partOffDeqClaim).Store(0) // x saw g and backed off (or never got that far)
	delivered := 0
	if n, ok, err := g.TryGet(buf); !ok || err != nil || string(buf[:n]) != "M" {
		t.Fatalf("TryGet once the slot is the only claim's: %q, ok %v, err %v; want M", buf[:n], ok, err)
	}
	delivered++
	if _, err := RescueEmpty(x); err != nil && err != io.EOF { // io.EOF: its producer, d, has gone
		t.Fatal(err)
	}
	if _, ok, err := x.TryGet(buf); ok || err != nil {
		delivered++
		t.Fatalf("the live consumer got a message more (ok %v, err %v): delivered %d times", ok, err, delivered)
	}
	if err := Sane(g); err != nil {
		t.Fatal(err)
	}
}
