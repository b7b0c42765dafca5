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
