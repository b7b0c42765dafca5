package ringbuf

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// Run claims against stale claim words of the dead. The races are placed
// by hand, on handles of one process whose Close makes them read as
// departed (as adopt_internal_test.go does).

func runRing(t *testing.T, n int) (*MPMC, []*MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPMC(seg, "r", 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]*MPMC, n)
	for i := range hs {
		if hs[i], err = OpenMPMC(seg, "r"); err != nil {
			t.Fatal(err)
		}
	}
	return r, hs
}

// storeRunClaim writes h's claim words at off/endOff as a run claim of
// [lo, hi) does before its CAS (claim 0, end, claim).
func storeRunClaim(h *MPMC, off, endOff int, lo, hi uint64) {
	h.parts.word(h.part, off).Store(0)
	h.parts.word(h.part, endOff).Store(hi + 1)
	h.parts.word(h.part, off).Store(lo + 1)
}

// TestAdoptNotOverALiveConsumersSlot: consumer d stores a run claim of
// positions 0..1 and dies before its CAS; w wins position 0 alone, takes
// it and closes; x takes position 1. While x is still taking it, the ring
// is empty, and another consumer must not adopt d's leftover range (its
// start's other holder, w, is gone) and deliver x's message again.
func TestAdoptNotOverALiveConsumersSlot(t *testing.T) {
	r, hs := runRing(t, 4)
	d, w, x, c := hs[0], hs[1], hs[2], hs[3]
	for _, h := range hs {
		if err := h.AttachConsumer(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"A", "B"} {
		if ok, err := r.TryPut([]byte(m)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	storeRunClaim(d, partOffDeqClaim, partOffDeqClaimEnd, 0, 2)
	d.Close() // and dies before its CAS
	if _, ok, err := w.TryGet(make([]byte, 8)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	w.Close()
	got := map[string]int{}
	ok, err := x.TryGetFunc(func(msg []byte) {
		got[string(msg)]++
		if _, err := RescueEmpty(c); err != nil {
			t.Fatal(err)
		}
		c.TryGetFunc(func(msg []byte) { got[string(msg)]++ })
	})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got["B"] != 1 {
		t.Fatalf("B put once, delivered %d times (%v)", got["B"], got)
	}
	if err := Sane(r); err != nil {
		t.Fatal(err)
	}
}

// TestAbandonNotALiveProducersFilledSlot: producer d stores a run claim
// of positions 0..1 and dies before its CAS; a claims position 0. A
// consumer finding the ring empty sees position 0 claimed and unfilled;
// before it looks at the claim words, a fills position 0 and moves on to
// position 1. d's range alone then covers position 0: the consumer must
// not take the slot for a dead producer's and overwrite its length (the
// message would be skipped, lost).
func TestAbandonNotALiveProducersFilledSlot(t *testing.T) {
	r, hs := runRing(t, 3)
	d, a, c := hs[0], hs[1], hs[2]
	if err := d.AttachProducer(); err != nil {
		t.Fatal(err)
	}
	if err := a.AttachProducer(); err != nil {
		t.Fatal(err)
	}
	if err := c.AttachConsumer(); err != nil {
		t.Fatal(err)
	}
	storeRunClaim(d, partOffEnqClaim, partOffEnqClaimEnd, 0, 2)
	d.Close() // and dies before its CAS
	pos, ok, err := a.tryClaimPut(noWait)
	if !ok || err != nil || pos != 0 {
		t.Fatal(pos, ok, err)
	}
	mpmcAbandonHook = func(p uint64, stage int) {
		if p != 0 || stage != 0 {
			return
		}
		mpmcAbandonHook = nil
		copy(a.payload(0), "A")
		a.publishPut(0, 1)
		if ok, err := a.TryPut([]byte("B")); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	defer func() { mpmcAbandonHook = nil }()
	if _, err := RescueEmpty(c); err != nil {
		t.Fatal(err)
	}
	got := drainMPMC(t, c, nil)
	if len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Fatalf("put A, B; got %q", got)
	}
	if err := Sane(r); err != nil {
		t.Fatal(err)
	}
}

// TestAbandonNotALaterLap: two consumers find position 0 claimed by a dead
// producer and both go to give it up. c2 does; the slot is skipped, and
// producer a fills it for its next lap (position 8) before c1, which had
// looked at the slot before all that, gives it up: a length store there,
// before the CAS on seq, would land on a's message, which consumers would
// then skip.
func TestAbandonNotALaterLap(t *testing.T) {
	r, hs := runRing(t, 4)
	d, a, c1, c2 := hs[0], hs[1], hs[2], hs[3]
	defer func() {
		if err := Sane(r); err != nil {
			t.Error(err)
		}
	}()
	for _, h := range []*MPMC{d, a} {
		if err := h.AttachProducer(); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*MPMC{c1, c2} {
		if err := h.AttachConsumer(); err != nil {
			t.Fatal(err)
		}
	}
	pos, ok, err := d.tryClaimPut(noWait) // d claims position 0
	if !ok || err != nil || pos != 0 {
		t.Fatal(pos, ok, err)
	}
	d.Close() // and dies before filling it
	for i := 1; i < 8; i++ {
		if ok, err := a.TryPut([]byte{byte('0' + i)}); !ok || err != nil {
			t.Fatal(i, ok, err)
		}
	}
	var got []string
	mpmcAbandonHook = func(p uint64, stage int) {
		if p != 0 || stage != 1 {
			return
		}
		mpmcAbandonHook = nil
		if _, err := RescueEmpty(c2); err != nil { // gives position 0 up
			t.Fatal(err)
		}
		c2.TryGetFunc(func(msg []byte) { got = append(got, string(msg)) }) // skips it, takes 1
		if ok, err := a.TryPut([]byte("X")); !ok || err != nil {           // position 8, slot 0
			t.Fatal(ok, err)
		}
	}
	defer func() { mpmcAbandonHook = nil }()
	if _, err := RescueEmpty(c1); err != nil {
		t.Fatal(err)
	}
	got = drainMPMC(t, c1, got)
	if len(got) != 8 || got[7] != "X" {
		t.Fatalf("put 1..7, X; got %q", got)
	}
}

// TestAbandonKeepsAWholeMessage: producer d dies after its message's
// length store and before the seq store that would publish it. Giving the
// slot up stores no length (see abandonDeadRun), so the whole message is
// delivered, once, and counted by Outstanding until it is.
func TestAbandonKeepsAWholeMessage(t *testing.T) {
	r, hs := runRing(t, 2)
	d, c := hs[0], hs[1]
	if err := d.AttachProducer(); err != nil {
		t.Fatal(err)
	}
	if err := c.AttachConsumer(); err != nil {
		t.Fatal(err)
	}
	pos, ok, err := d.tryClaimPut(noWait)
	if !ok || err != nil || pos != 0 {
		t.Fatal(pos, ok, err)
	}
	copy(d.payload(0), "W")
	storeRel32(d.length(0), 1)
	d.Close() // and dies before publishing
	if n := Outstanding(r); n != 1 {
		t.Fatalf("Outstanding %d, want 1", n)
	}
	if _, err := RescueEmpty(c); err != nil {
		t.Fatal(err)
	}
	got := drainMPMC(t, c, nil)
	if len(got) != 1 || got[0] != "W" {
		t.Fatalf("got %q, want W once", got)
	}
	if n := Outstanding(r); n != 0 {
		t.Fatalf("Outstanding %d after the Get, want 0", n)
	}
	if err := Sane(r); err != nil {
		t.Fatal(err)
	}
}

// drainMPMC takes every message r has now, without waiting, appending
// each to got.
func drainMPMC(t *testing.T, r *MPMC, got []string) []string {
	t.Helper()
	for {
		ok, err := r.TryGetFunc(func(msg []byte) { got = append(got, string(msg)) })
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
	}
}
