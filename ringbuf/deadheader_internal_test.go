package ringbuf

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type claimDieArgs struct {
	R    *MPSC
	Flag *shm.Segment
}

// claimDieW claims a record's space on an MPSC ring as a Write does (claim
// words, then the tail CAS), says so in Flag, and waits to be killed
// before it writes the record's header: the header stays 0 below the tail.
var claimDieW = process.Register("ringbuf-claim-die", func(ctx context.Context, a claimDieArgs) error {
	r := &a.R.vring
	if err := r.AttachProducer(); err != nil {
		return err
	}
	need := uint64(alignUp(recordHeaderSize+1, recordAlign))
	for {
		tail := r.tail.Load()
		r.slots.word(r.p.slot, slotOffClaimPos).Store(tail)
		r.slots.word(r.p.slot, slotOffClaimEnd).Store(tail + need)
		if r.tail.CompareAndSwap(tail, tail+need) {
			break
		}
	}
	return holdForKill(a.Flag)
})

// TestDeadClaimZeroHeaderCaughtUp: an MPSC consumer that has caught up
// waits in Read; a producer claims space (the tail moves) and is killed
// before it writes the header, which stays 0 at the consumer's head; a
// live producer then writes a message behind it. A caught-up consumer
// looks at the header at its head before the tail (committedAt), and the
// header is 0: its poll must still read the tail, skip the dead claim
// and deliver the message, the one after it.
func TestDeadClaimZeroHeaderCaughtUp(t *testing.T) {
	flag := shmtest.Segment(t, 64)
	c, p := mpscPair(t, 4096, WithPoll(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	if err := p.Write(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := c.Read(ctx, buf); err != nil || string(buf[:n]) != "a" {
		t.Fatalf("first Read = %q, %v", buf[:n], err)
	}
	type result struct {
		msg string
		err error
	}
	got := make(chan result, 1)
	go func() { // waits, caught up, while the claim is made and its maker dies
		n, err := c.Read(ctx, buf)
		got <- result{string(buf[:n]), err}
	}()
	child, err := claimDieW.Start(ctx, claimDieArgs{R: p, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "the child did not claim")
	child.Kill()
	child.Wait()
	if err := p.Write(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.msg != "b" {
		t.Fatalf("Read after the dead claim = %q, %v; want \"b\"", r.msg, r.err)
	}
	if err := Sane(c); err != nil {
		t.Fatal(err)
	}
}
