package ringbuf_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// giveUpVictimArgs: put a run of Run messages of producer ID with
// PutBatchFunc, giving up slot GiveUpAt (and so the rest), killed before
// the fill of slot KillAt (after the give-up, within the run's first
// chunk of 8 slots, which are filled or given up before any seq is
// stored).
type giveUpVictimArgs struct {
	R        *ringbuf.MPMC
	Flag     *shm.Segment
	ID       int
	Run      int
	GiveUpAt int
	KillAt   int
}

var giveUpVictimW = process.Register("ringbuf-giveup-victim", func(ctx context.Context, a giveUpVictimArgs) error {
	ringbuf.SetMPMCRunHook(holdAt(a.Flag, a.KillAt))
	_, err := a.R.PutBatchFunc(ctx, a.Run, func(i int, slot []byte) int {
		if i == a.GiveUpAt {
			return -1
		}
		return len(message(slot, a.ID, i, 64))
	})
	return err
})

// TestKillRunMPMCGivenUp: a producer killed inside the first chunk of a run
// in which it gave a slot up leaves every slot of the run with seq == pos;
// the rescue publishes them, and consumers deliver the filled ones before
// the give-up and skip the given-up slot and those after it (whose
// lengths were never stored), then a later producer's messages.
func TestKillRunMPMCGivenUp(t *testing.T) {
	seg, r, flag := killRing(t)
	const run, giveUp = 8, 2
	p, err := giveUpVictimW.Start(context.Background(), giveUpVictimArgs{R: r, Flag: flag, ID: 1, Run: run, GiveUpAt: giveUp, KillAt: 5})
	if err != nil {
		t.Fatal(err)
	}
	awaitFlag(t, flag, 1)
	p.Kill()
	p.Wait()
	if _, ok, err := r.TryGet(make([]byte, 64)); ok || err != nil {
		t.Fatalf("TryGet before the rescue: ok %v, err %v; want nothing published yet", ok, err)
	}
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	prod, err := ringbuf.OpenMPMC(seg, "q")
	if err == nil {
		err = prod.AttachProducer() // before the consumer may find every producer dead
	}
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const later = 20
	errc := make(chan error, 1)
	go func() { errc <- putRunsOf(ctx, prod, 0, 0, later, 3, 64) }()
	consumeAll(t, func(b []byte) (int, error) { return r.Get(ctx, b) }, []int{later, giveUp}, 64)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	assertDrained(t, r)
}

// TestKillRunGetMPMCGivenUp: a consumer killed inside a GetBatchFunc run
// that holds slots given up by their producer, after it used (and reset
// the length of) some messages and given-up slots: Outstanding counts
// only the messages it had not used, and the adopter delivers exactly
// those, in order.
func TestKillRunGetMPMCGivenUp(t *testing.T) {
	_, r, flag := killRing(t)
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	// Slots 0..2: messages 0..2; 3..7 given up; 8..15: messages 3..10.
	n, err := r.PutBatchFunc(ctx, 8, func(i int, slot []byte) int {
		if i == 3 {
			return -1
		}
		return len(message(slot, 0, i, 64))
	})
	if n != 3 || err != nil {
		t.Fatalf("PutBatchFunc: %d, %v; want 3, nil", n, err)
	}
	if err := putRunsOf(ctx, r, 0, 3, 8, 8, 64); err != nil {
		t.Fatal(err)
	}
	// The victim uses slots 0..9 (messages 0..4 and the five given up) and
	// is killed before slot 10.
	p, err := runGetVictimW.Start(context.Background(), runGetVictimArgs{R: r, Flag: flag, Run: 16, KillAt: 10})
	if err != nil {
		t.Fatal(err)
	}
	awaitFlag(t, flag, 1)
	p.Kill()
	p.Wait()
	if got := ringbuf.Outstanding(r); got != 6 {
		t.Fatalf("Outstanding %d after the victim died, want 6 (messages 5..10)", got)
	}
	buf := make([]byte, 64)
	var seqs []int
	for len(seqs) < 6 {
		n, err := r.Get(ctx, buf)
		if err != nil {
			t.Fatalf("after %v: %v", seqs, err)
		}
		_, seq, err := checkMessage(buf[:n], 64)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if fmt.Sprint(seqs) != "[5 6 7 8 9 10]" {
		t.Fatalf("got messages %v, want [5 6 7 8 9 10]", seqs)
	}
	if got := ringbuf.Outstanding(r); got != 0 {
		t.Fatalf("Outstanding %d after every message", got)
	}
	assertDrained(t, r)
}
