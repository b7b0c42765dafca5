package ringbuf_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// When every participant slot of an MPMC ring is held and the only ones
// that may be taken are those of dead (or departed) handles whose claims
// are not yet resolved, a new handle's blocking Put or Get waits for one
// of them (or resolves it itself) rather than failing, and its Try calls
// report nothing done now.

// heldArgs: the victim's ring and the flag it raises at its kill point.
type heldArgs struct {
	R    *ringbuf.MPMC
	Flag *shm.Segment
}

// putFillHeld claims a slot with PutFunc and stops inside fill, the slot
// claimed and not filled, for the parent to SIGKILL.
var putFillHeld = process.Register("ringbuf-put-fill-held", func(ctx context.Context, a heldArgs) error {
	return a.R.PutFunc(ctx, func([]byte) int {
		signal(a.Flag, 1)
		select {} // killed here
	})
})

// getUseHeld claims a message with GetFunc and stops inside use, the
// message claimed and not yet given back, for the parent to SIGKILL.
var getUseHeld = process.Register("ringbuf-get-use-held", func(ctx context.Context, a heldArgs) error {
	return a.R.GetFunc(ctx, func([]byte) {
		signal(a.Flag, 1)
		select {} // killed here
	})
})

// killHeldOn starts w on r (the handle reserves the child a participant
// slot), waits until it holds at its kill point, and SIGKILLs it.
func killHeldOn(t *testing.T, w *process.Func[heldArgs], r *ringbuf.MPMC) {
	t.Helper()
	flag := shmtest.Segment(t, 64)
	p, err := w.Start(context.Background(), heldArgs{R: r, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	awaitFlag(t, flag, 1)
	p.Kill()
	p.Wait()
}

// pendingRing makes an MPMC ring of 4 slots of 8 bytes with two
// participant slots, closed with the test.
func pendingRing(t *testing.T) (*shm.Segment, *ringbuf.MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewMPMC(seg, "m", 4, 8, ringbuf.WithProducers(2), ringbuf.WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return seg, r
}

// openMPMC opens another handle on the ring "m" of seg, closed with the
// test.
func openMPMC(t *testing.T, seg *shm.Segment) *ringbuf.MPMC {
	t.Helper()
	h, err := ringbuf.OpenMPMC(seg, "m", ringbuf.WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// getString gets one message from r as a string.
func getString(ctx context.Context, r *ringbuf.MPMC) (string, error) {
	buf := make([]byte, 8)
	n, err := r.Get(ctx, buf)
	return string(buf[:min(n, len(buf))]), err
}

// TestMPMCPutWaitsForAdoption: of two participant slots, one is the
// live consumer's and one a consumer's that was killed holding a
// message. A new handle's Put must wait (until its context ends; its
// TryPut reports a full ring), and once the live consumer has adopted
// and delivered the dead one's message, which frees that slot, go in. A
// Put waiting so ends with its handle's Close.
func TestMPMCPutWaitsForAdoption(t *testing.T) {
	seg, r := pendingRing(t)
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	if err := r.AttachConsumer(); err != nil { // slot 0: the live consumer
		t.Fatal(err)
	}
	if err := r.Put(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	killHeldOn(t, getUseHeld, r) // slot 1: dead, holding "a"

	p := openMPMC(t, seg)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := p.Put(short, []byte("c"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put while the only slot to take holds a dead consumer's message: %v; want it to wait until its context ends", err)
	}
	if ok, err := p.TryPut([]byte("c")); ok || err != nil {
		t.Fatalf("TryPut meanwhile: ok %v, err %v; want ok false (no room now), no error", ok, err)
	}
	// A Put waiting for a slot ends with its handle's Close.
	p2 := openMPMC(t, seg)
	closed := make(chan error, 1)
	go func() { closed <- p2.Put(ctx, []byte("d")) }()
	p2.Close()
	if err := <-closed; !errors.Is(err, ringbuf.ErrClosed) {
		t.Fatalf("Put waiting for a slot, its handle closed: %v; want ErrClosed", err)
	}
	put := make(chan error, 1)
	go func() { put <- p.Put(ctx, []byte("c")) }()
	for _, want := range []string{"a", "c"} { // "a" adopted once the ring is empty; that frees the slot
		if got, err := getString(ctx, r); got != want || err != nil {
			t.Fatalf("Get = %q, %v; want %q", got, err, want)
		}
	}
	if err := <-put; err != nil {
		t.Fatalf("Put once the slot was freed: %v", err)
	}
	assertDrained(t, r)
}

// TestMPMCGetTakesOverDeadConsumersSlot: both participant slots are held
// by consumers killed holding a message each, and no consumer is left to
// adopt them. A new handle's Put has no slot that can ever free up and
// says so (ErrPeerDead, TryPut nothing); a new handle's Get takes over a
// dead consumer's slot with its claim and delivers its message, adopts
// the other's once the ring is empty, and then the Put goes in.
func TestMPMCGetTakesOverDeadConsumersSlot(t *testing.T) {
	seg, r := pendingRing(t)
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	w := openMPMC(t, seg)
	for _, m := range []string{"a", "b"} {
		if err := w.Put(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close() // its slot free: the victims take both
	killHeldOn(t, getUseHeld, r)
	killHeldOn(t, getUseHeld, r)

	p := openMPMC(t, seg)
	if err := p.Put(ctx, []byte("c")); !errors.Is(err, ringbuf.ErrPeerDead) {
		t.Fatalf("Put with every slot held by dead consumers' messages and no consumer alive: %v; want ErrPeerDead", err)
	}
	if ok, err := p.TryPut([]byte("c")); ok || err != nil {
		t.Fatalf("TryPut meanwhile: ok %v, err %v; want ok false, no error", ok, err)
	}
	g := openMPMC(t, seg)
	got := map[string]int{}
	for range 2 {
		m, err := getString(ctx, g)
		if err != nil {
			t.Fatalf("Get of a dead consumer's message (got %v): %v", got, err)
		}
		got[m]++
	}
	if got["a"] != 1 || got["b"] != 1 {
		t.Fatalf("got %v; want a and b once each", got)
	}
	if err := p.Put(ctx, []byte("c")); err != nil {
		t.Fatalf("Put once a slot was freed: %v", err)
	}
	if m, err := getString(ctx, g); m != "c" || err != nil {
		t.Fatalf("Get = %q, %v; want c", m, err)
	}
	assertDrained(t, g)
}

// TestMPMCPutGivesUpDeadProducersSlot: both participant slots are held by
// producers killed with a slot claimed and not filled, and nobody else is
// attached. A new handle's Put gives the dead claim up (as a consumer
// would once it reached it) and takes that slot; a new consumer does the
// same with the other, skips both given-up slots and gets the message.
func TestMPMCPutGivesUpDeadProducersSlot(t *testing.T) {
	seg, r := pendingRing(t)
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	killHeldOn(t, putFillHeld, r)
	killHeldOn(t, putFillHeld, r)

	p := openMPMC(t, seg)
	if err := p.Put(ctx, []byte("c")); err != nil {
		t.Fatalf("Put with every slot held by dead producers' claims: %v", err)
	}
	g := openMPMC(t, seg)
	if m, err := getString(ctx, g); m != "c" || err != nil {
		t.Fatalf("Get = %q, %v; want c", m, err)
	}
	assertDrained(t, g)
}
