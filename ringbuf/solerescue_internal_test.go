package ringbuf

import (
	"testing"
)

// TestSoleConsumerKeepsItsSideThroughAFullRingsRescue: a producer blocked
// on a full ring runs the rescue every poll period (RescueFull, as a
// queue's blocked Put does), which skips given-up slots at the head for
// want of a consumer. With none there it moves nothing and must leave the
// consumers' side to its sole claimer: a consumer slower than its producer
// (the ring full, the producer blocked past a poll) would otherwise pay a
// CAS on every claim from then on, the side shared for good.
func TestSoleConsumerKeepsItsSideThroughAFullRingsRescue(t *testing.T) {
	skipNoSole(t)
	seg, p := soleRing(t, 8)
	c := openSole(t, seg)
	buf := make([]byte, 8)
	if ok, err := p.TryPut([]byte{1}); !ok || err != nil {
		t.Fatalf("TryPut: %v, %v", ok, err)
	}
	if _, ok, err := c.TryGet(buf); !ok || err != nil {
		t.Fatalf("TryGet: %v, %v", ok, err)
	}
	if !c.deqSole.own || c.deqSole.mode.Load() != c.deqSole.tok {
		t.Fatalf("consumer after its Get: own %v, deqSole %#x, want its token %#x", c.deqSole.own, c.deqSole.mode.Load(), c.deqSole.tok)
	}
	for {
		ok, err := p.TryPut([]byte{2})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break // full
		}
	}
	for i := 0; i < 3; i++ {
		if retry, err := (*mpmcX)(p).RescueFull(); retry || err != nil {
			t.Fatalf("RescueFull on a ring full of messages, its consumer alive: retry %v, %v", retry, err)
		}
	}
	if m := c.deqSole.mode.Load(); m != c.deqSole.tok {
		t.Fatalf("deqSole %#x after the producer's rescues found nothing to skip, want the consumer's token %#x", m, c.deqSole.tok)
	}
	for i := 0; i < 8; i++ {
		if _, ok, err := c.TryGet(buf); !ok || err != nil {
			t.Fatalf("TryGet %d: %v, %v", i, ok, err)
		}
	}
	if !c.deqSole.own {
		t.Fatal("the consumer no longer claims plainly after the producer's rescues")
	}
}

// TestRescueSkipsAGivenUpHeadBesideASoleConsumer: where the head of a
// full ring is a given-up slot, the producer's rescue skips it by CAS,
// having first made the consumers' side shared (its sole claimer idle,
// not within a claim), and the consumer then gets every message after
// it, once.
func TestRescueSkipsAGivenUpHeadBesideASoleConsumer(t *testing.T) {
	skipNoSole(t)
	seg, p := soleRing(t, 8)
	c := openSole(t, seg)
	buf := make([]byte, 8)
	if ok, err := p.TryPut([]byte{0}); !ok || err != nil {
		t.Fatalf("TryPut: %v, %v", ok, err)
	}
	if _, ok, err := c.TryGet(buf); !ok || err != nil || !c.deqSole.own {
		t.Fatalf("TryGet: %v, %v; sole claimer %v", ok, err, c.deqSole.own)
	}
	if ok, err := p.TryPutFunc(func([]byte) int { return -1 }); ok || err != nil {
		t.Fatalf("TryPutFunc giving its slot up: %v, %v", ok, err)
	}
	for i := byte(1); ; i++ {
		ok, err := p.TryPut([]byte{i})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if retry, err := (*mpmcX)(p).RescueFull(); !retry || err != nil {
		t.Fatalf("RescueFull with a given-up slot at the head: retry %v, %v; want a slot freed", retry, err)
	}
	if m := c.deqSole.mode.Load(); m != soleShared {
		t.Fatalf("deqSole %#x after a rescue's skip, want shared", m)
	}
	for want := byte(1); want < 8; want++ {
		if _, ok, err := c.TryGet(buf); !ok || err != nil || buf[0] != want {
			t.Fatalf("TryGet: message %d, %v, %v; want message %d", buf[0], ok, err, want)
		}
	}
	if _, ok, err := c.TryGet(buf); ok || err != nil {
		t.Fatalf("TryGet on the emptied ring: %v, %v (message %d)", ok, err, buf[0])
	}
}
