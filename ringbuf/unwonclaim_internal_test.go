package ringbuf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// claimKill says where claimThenDieW is killed after its records: with
// its claim words stored for Claim bytes from Back bytes below the tail,
// before the CAS that would claim them (unwon: Back 0 for a claim the
// tail never reached, Back > 0 for one that lost the CAS from that tail
// to the producer before), or after that CAS, its header still 0 (Won).
type claimKill struct {
	Claim, Back uint64
	Won         bool
}

type claimThenDieArgs struct {
	R    *MPSC
	Flag *shm.Segment
	ID   int
	N    int // records written (committed) before the claim
	Kill claimKill
}

// claimThenDieW attaches a producer, writes N records, stores its claim
// words as a Write does (and, if Kill.Won, CASes the tail), says so in
// Flag and waits to be killed.
var claimThenDieW = process.Register("ringbuf-claim-then-die", func(ctx context.Context, a claimThenDieArgs) error {
	r := &a.R.vring
	if err := a.R.AttachProducer(); err != nil {
		return err
	}
	for i := range a.N {
		if err := a.R.Write(ctx, claimRecord(a.ID, i)); err != nil {
			return err
		}
	}
	pos := r.tail.Load() - a.Kill.Back
	r.slots.word(r.p.slot, slotOffClaimPos).Store(pos)
	r.slots.word(r.p.slot, slotOffClaimEnd).Store(pos + a.Kill.Claim)
	if a.Kill.Won && !r.tail.CompareAndSwap(pos, pos+a.Kill.Claim) {
		return fmt.Errorf("tail moved from %d", pos)
	}
	return holdForKill(a.Flag)
})

// claimRecord is record i of producer id.
func claimRecord(id, i int) []byte { return []byte(fmt.Sprintf("p%d-r%d", id, i)) }

// TestDeadProducersUnwonClaims: every producer slot of an MPSC ring is
// held by a producer killed after its records, its last claim stored and
// the tail's CAS not made, or made by another producer from the same
// tail. Such a claim covers no byte of the ring, and on an idle ring the
// consumer's head never passes its end: a new producer must still be able
// to take the slot (at once: AttachProducer does not wait) and write. A
// slot whose dead owner won its claim and wrote nothing there ("won") is
// not to be taken until the consumer has skipped that space, which it
// finds by the claim. A second new producer gets that slot once the
// consumer skipped it, and the consumer reads every committed record
// once, in order.
func TestDeadProducersUnwonClaims(t *testing.T) {
	unwon := claimKill{Claim: 16}
	cases := []struct {
		name  string
		kills []claimThenDieArgs // one per producer slot, in order
	}{
		// Both claim the same 16 bytes at the tail, neither CASes.
		{"unwon", []claimThenDieArgs{{ID: 0, N: 2, Kill: unwon}, {ID: 1, N: 0, Kill: unwon}}},
		// Slot 0 claims 512 bytes at the tail and is killed before its
		// CAS; slot 1 writes from that tail (winning it) and then dies
		// unwon.
		{"lost", []claimThenDieArgs{{ID: 0, N: 0, Kill: claimKill{Claim: 512}}, {ID: 1, N: 3, Kill: unwon}}},
		// Slot 0 wins 16 bytes at the tail and leaves the header 0;
		// slot 1 lost 512 bytes from the same tail to it.
		{"won", []claimThenDieArgs{{ID: 0, N: 2, Kill: claimKill{Claim: 16, Won: true}}, {ID: 1, N: 0, Kill: claimKill{Claim: 512, Back: 16}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			c, err := NewMPSC(seg, "r", 4096, WithProducers(len(tc.kills)), WithPoll(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
			defer cancel()
			var want []string
			for _, a := range tc.kills {
				flag := shmtest.Segment(t, 64)
				a.R, a.Flag = c, flag
				child, err := claimThenDieW.Start(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				awaitChild(t, ctx, flag, fmt.Sprintf("producer %d did not get to its claim", a.ID))
				child.Kill()
				child.Wait()
				for i := range a.N {
					want = append(want, string(claimRecord(a.ID, i)))
				}
			}
			buf := make([]byte, 64)
			read := func(n int) {
				t.Helper()
				for range n {
					k, err := c.Read(ctx, buf)
					if err != nil {
						t.Fatalf("Read, %d records to go: %v", len(want), err)
					}
					if got := string(buf[:k]); got != want[0] {
						t.Fatalf("Read %q, want %q", got, want[0])
					}
					want = want[1:]
				}
			}
			read(len(want)) // the consumer catches up: the ring is idle

			p, err := OpenMPSC(seg, "r")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.AttachProducer(); err != nil {
				t.Fatalf("AttachProducer, every slot held by a dead producer: %v", err)
			}
			// The other slot, once the consumer has skipped the dead
			// claim at its head ("won"): p's slot, taken over and not
			// written yet, must not hold it up.
			p2, err := OpenMPSC(seg, "r")
			if err != nil {
				t.Fatal(err)
			}
			defer p2.Close()
			wrote := make(chan error, 1)
			go func() { wrote <- p2.Write(ctx, claimRecord(8, 0)) }()
			want = append(want, string(claimRecord(8, 0)))
			read(1)
			if err := <-wrote; err != nil {
				t.Fatalf("Write by the second new producer: %v", err)
			}
			for i := range 3 {
				if err := p.Write(ctx, claimRecord(9, i)); err != nil {
					t.Fatalf("Write %d by the new producer: %v", i, err)
				}
				want = append(want, string(claimRecord(9, i)))
			}
			read(len(want))
			if k, ok, err := c.TryRead(buf); ok || err != nil {
				t.Fatalf("TryRead after every record = %q, %v, %v; want nothing", buf[:k], ok, err)
			}
			if err := Sane(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}
