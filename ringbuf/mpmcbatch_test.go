package ringbuf_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// runVictimArgs: put N messages with PutBatch runs of Run, then one more
// run of Run messages (numbered from N) killed before filling its slot
// KillAt (KillAt == Run: after the last publication, before the wake).
type runVictimArgs struct {
	R      *ringbuf.MPMC
	Flag   *shm.Segment
	ID     int
	N      int
	Run    int
	KillAt int
}

// putRunsOf puts messages first..first+n-1 of producer id with PutBatch.
func putRunsOf(ctx context.Context, r *ringbuf.MPMC, id, first, n, run, max int) error {
	bufs := make([][]byte, run)
	for i := range bufs {
		bufs[i] = make([]byte, max)
	}
	for n > 0 {
		msgs := make([][]byte, min(n, run))
		for j := range msgs {
			msgs[j] = message(bufs[j], id, first+j, max)
		}
		k, err := r.PutBatch(ctx, msgs)
		if err != nil {
			return fmt.Errorf("producer %d messages %d..: %w", id, first, err)
		}
		first, n = first+k, n-k
	}
	return nil
}

var runVictimW = process.Register("ringbuf-run-victim", func(ctx context.Context, a runVictimArgs) error {
	if err := putRunsOf(ctx, a.R, a.ID, 0, a.N, a.Run, 64); err != nil {
		return err
	}
	ringbuf.SetMPMCRunHook(holdAt(a.Flag, a.KillAt))
	return putRunsOf(ctx, a.R, a.ID, a.N, a.Run, a.Run, 64)
})

// holdAt is a run hook (SetMPMCRunHook, SetMPMCGetRunHook) that, at slot
// at of a run (at its end, n, if the run is shorter), says so through flag
// and blocks for the parent to kill the process there.
func holdAt(flag *shm.Segment, at int) func(i, n int) {
	return func(i, n int) {
		if i == min(at, n) {
			signal(flag, 1)
			select {} // killed here
		}
	}
}

// killRing makes the ring of 64 slots of 64 bytes that the run kill tests
// use (closed at the end of the test) and the flag segment of its victim.
func killRing(t *testing.T) (*shm.Segment, *ringbuf.MPMC, *shm.Segment) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<20)
	flag := shmtest.Segment(t, 64)
	r, err := ringbuf.NewMPMC(seg, "q", 64, 64, ringbuf.WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return seg, r, flag
}

// killRunVictim starts a run victim on r and kills it at its hook.
func killRunVictim(t *testing.T, a runVictimArgs) {
	t.Helper()
	a.Flag = shmtest.Segment(t, 64)
	p, err := runVictimW.Start(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	awaitFlag(t, a.Flag, 1)
	p.Kill()
	p.Wait()
}

// assertDrained fails t unless r is empty and sane.
func assertDrained(t *testing.T, r *ringbuf.MPMC) {
	t.Helper()
	if _, ok, err := r.TryGet(make([]byte, r.SlotBytes())); ok || err != nil {
		t.Fatalf("after every message: TryGet ok %v, err %v; want an empty ring", ok, err)
	}
	if err := ringbuf.Sane(r); err != nil {
		t.Fatal(err)
	}
}

// TestKillRunMPMC: a producer killed inside a PutBatch run (after the
// claim and before the first fill, after half the run, after the last
// fill before the wake) loses only its unfilled slots: the consumer gets
// its filled prefix in order, then a later producer's messages, and the
// ring is sane. With a limit, a producer and a consumer work at the same
// time; without a consumer, a producer at the limit gets past the dead
// run on its own.
func TestKillRunMPMC(t *testing.T) {
	const run = 8
	for _, limit := range []int{0, 12} {
		for _, at := range []int{0, run / 2, run} {
			t.Run(fmt.Sprintf("limit=%d/at=%d", limit, at), func(t *testing.T) {
				seg := shmtest.Segment(t, 1<<20)
				r, err := ringbuf.NewMPMC(seg, "q", 64, 64, ringbuf.WithPoll(5*time.Millisecond), ringbuf.WithLimit(limit))
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				prior := 4
				killRunVictim(t, runVictimArgs{R: r, ID: 1, N: prior, Run: run, KillAt: at})
				if got, want := r.Len(), prior+run; got != want {
					t.Fatalf("Len %d after the victim's run, want %d (its %d messages and its run of %d)", got, want, prior, run)
				}
				ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
				prod, err := ringbuf.OpenMPMC(seg, "q")
				if err == nil {
					// Attached before the consumer looks: else a consumer that
					// drains the dead victim's messages before the goroutine's
					// first Put finds every producer it knows dead (ErrPeerDead).
					err = prod.AttachProducer()
				}
				if err != nil {
					t.Fatal(err)
				}
				defer prod.Close()
				const later = 40
				errc := make(chan error, 1)
				go func() { errc <- putRunsOf(ctx, prod, 0, 0, later, 3, 64) }()
				consumeAll(t, func(b []byte) (int, error) { return r.Get(ctx, b) }, []int{later, prior + min(at, run)}, 64)
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				assertDrained(t, r)
			})
		}
	}
	t.Run("limit=8/no-consumer", func(t *testing.T) {
		seg := shmtest.Segment(t, 1<<20)
		r, err := ringbuf.NewMPMC(seg, "q", 16, 64, ringbuf.WithPoll(5*time.Millisecond), ringbuf.WithLimit(run))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		killRunVictim(t, runVictimArgs{R: r, ID: 1, Run: run, KillAt: 0})
		ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
		// The ring is at its limit with the dead run: these Puts get past it
		// with no consumer at work.
		if err := putRunsOf(ctx, r, 0, 0, run, run, 64); err != nil {
			t.Fatal(err)
		}
		consumeAll(t, func(b []byte) (int, error) { return r.Get(ctx, b) }, []int{run}, 64)
		assertDrained(t, r)
	})
}

// TestKillRunMPMCPreviousLap: a run is cut before a slot that a consumer
// of the previous lap is still inside its Get for (it never waits on it
// with the claim held); its producer killed after half the run loses only
// the unfilled half, and the held message is still delivered.
func TestKillRunMPMCPreviousLap(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "q", 8, 64, ringbuf.WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	holder, err := ringbuf.OpenMPMC(seg, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	if err := putRunsOf(ctx, r, 0, 0, 8, 8, 64); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	get := func() {
		t.Helper()
		n, err := r.Get(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := checkMessage(buf[:n], 64); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		get()
	}
	inside, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- holder.GetFunc(ctx, func(msg []byte) {
			if _, seq, err := checkMessage(msg, 64); err != nil || seq != 4 {
				panic(fmt.Sprintf("held message %d: %v", seq, err))
			}
			close(inside)
			<-release // a consumer of the previous lap, inside its Get
		})
	}()
	<-inside
	for range 3 {
		get()
	}
	killRunVictim(t, runVictimArgs{R: r, ID: 1, Run: 8, KillAt: 2})
	if got := r.Len(); got != 4 {
		t.Fatalf("the run claimed %d slots, want 4 (cut before the held slot)", got)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := putRunsOf(ctx, r, 2, 0, 4, 4, 64); err != nil { // fills the ring behind the victim's run
		t.Fatal(err)
	}
	consumeAll(t, func(b []byte) (int, error) { return r.Get(ctx, b) }, []int{0, 2, 4}, 64)
	assertDrained(t, r)
}

// TestPutBatchMPMC: PutBatch puts what fits now, in order, with messages
// up to the slot size; ErrTooLarge for an oversized first message; a
// fill that gives a slot up gives up the rest of the run.
func TestPutBatchMPMC(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "q", 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	msgs := make([][]byte, 12)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("m%02d", i))
	}
	n, err := r.PutBatch(ctx, msgs)
	if n != 8 || err != nil {
		t.Fatalf("PutBatch of 12 into 8 slots: %d, %v; want 8, nil", n, err)
	}
	if _, err := r.PutBatch(ctx, [][]byte{make([]byte, 17)}); !errors.Is(err, ringbuf.ErrTooLarge) {
		t.Fatalf("oversized: %v, want ErrTooLarge", err)
	}
	buf := make([]byte, 16)
	for i := range 8 {
		k, err := r.Get(ctx, buf)
		if err != nil || string(buf[:k]) != string(msgs[i]) {
			t.Fatalf("message %d: %q, %v", i, buf[:k], err)
		}
	}
	n, err = r.TryPutBatchFunc(6, func(i int, slot []byte) int {
		if i == 3 {
			return -1
		}
		return copy(slot, msgs[i])
	})
	if n != 3 || err != nil {
		t.Fatalf("TryPutBatchFunc giving up slot 3: %d, %v; want 3, nil", n, err)
	}
	for i := range 3 {
		k, err := r.Get(ctx, buf)
		if err != nil || string(buf[:k]) != string(msgs[i]) {
			t.Fatalf("message %d: %q, %v", i, buf[:k], err)
		}
	}
	assertDrained(t, r)
}

type runGetVictimArgs struct {
	R      *ringbuf.MPMC
	Flag   *shm.Segment
	Run    int
	KillAt int
}

var runGetVictimW = process.Register("ringbuf-run-get-victim", func(ctx context.Context, a runGetVictimArgs) error {
	ringbuf.SetMPMCGetRunHook(holdAt(a.Flag, a.KillAt)) // i < n: at itself
	_, err := a.R.GetBatchFunc(ctx, a.Run, func([]byte) {})
	return err
})

// killedGetRun makes a ring of 64 slots holding messages 0..run-1 of
// producer 0 and kills a consumer inside a GetBatchFunc run of them,
// before it empties slot at. It returns the ring (closed at the end of
// the test), its segment, and a context for the test.
func killedGetRun(t *testing.T, run, at int) (*shm.Segment, *ringbuf.MPMC, context.Context) {
	t.Helper()
	seg, r, flag := killRing(t)
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	if err := putRunsOf(ctx, r, 0, 0, run, run, 64); err != nil {
		t.Fatal(err)
	}
	p, err := runGetVictimW.Start(context.Background(), runGetVictimArgs{R: r, Flag: flag, Run: run, KillAt: at})
	if err != nil {
		t.Fatal(err)
	}
	awaitFlag(t, flag, 1)
	p.Kill()
	p.Wait()
	return seg, r, ctx
}

// TestKillRunGetMPMC: a consumer killed inside a GetBatchFunc run (before
// it empties the first slot, after half) loses nothing: the next consumer
// that finds the ring empty adopts the slots it had not emptied and
// delivers them in order, exactly once, after the messages queued behind
// them; Outstanding counts them meanwhile, and the ring ends sane.
func TestKillRunGetMPMC(t *testing.T) {
	const run = 8
	for _, at := range []int{0, run / 2} {
		t.Run(fmt.Sprintf("at=%d", at), func(t *testing.T) {
			_, r, ctx := killedGetRun(t, run, at)
			if got, want := ringbuf.Outstanding(r), run-at; got != want {
				t.Fatalf("Outstanding %d after the victim died, want %d (its run's unemptied slots)", got, want)
			}
			const later = 4
			if err := putRunsOf(ctx, r, 0, run, later, later, 64); err != nil {
				t.Fatal(err)
			}
			var seqs []int
			buf := make([]byte, 64)
			for len(seqs) < run-at+later {
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
			want := []int{}
			for s := run; s < run+later; s++ {
				want = append(want, s)
			}
			for s := at; s < run; s++ {
				want = append(want, s)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(want) {
				t.Fatalf("got messages %v, want %v (the queued ones, then the dead run's unemptied ones)", seqs, want)
			}
			if got := ringbuf.Outstanding(r); got != 0 {
				t.Fatalf("Outstanding %d after every message", got)
			}
			assertDrained(t, r)
		})
	}
}

// TestGetBatchMPMC: GetBatchFunc hands over what is there, in order, up
// to its bound, skipping slots given up by producers.
func TestGetBatchMPMC(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "q", 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	n, err := r.TryPutBatchFunc(10, func(i int, slot []byte) int { return copy(slot, fmt.Sprintf("m%02d", i)) })
	if n != 10 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := r.TryPutBatchFunc(3, func(i int, slot []byte) int { return -1 }); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if err := r.Put(ctx, []byte("m10")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 11 {
		n, err := r.GetBatchFunc(ctx, 6, func(msg []byte) { got = append(got, string(msg)) })
		if err != nil || n < 1 || n > 6 {
			t.Fatalf("GetBatchFunc: %d, %v", n, err)
		}
	}
	for i, m := range got {
		if m != fmt.Sprintf("m%02d", i) {
			t.Fatalf("got %v", got)
		}
	}
	assertDrained(t, r)
}

// BenchmarkLocalMPMCRun: one goroutine puts a run of 64 messages of 64
// bytes with PutBatch and takes them with GetBatchFunc, beside Put and
// GetFunc one message at a time: the ring's own cost per message, with no
// other process and no wait.
func BenchmarkLocalMPMCRun(b *testing.B) {
	seg, err := shm.CreateAnon(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	r, err := ringbuf.NewMPMC(seg, "q", 1024, 64)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	msg := make([]byte, 64)
	var sum byte
	use := func(m []byte) { sum += m[63] }
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Put(ctx, msg)
			r.GetFunc(ctx, use)
		}
	})
	b.Run("run64", func(b *testing.B) {
		run := make([][]byte, 64)
		for i := range run {
			run[i] = msg
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if n%64 == 0 {
				r.PutBatch(ctx, run)
			}
			if n++; n%64 == 0 {
				for got := 0; got < 64; {
					k, _ := r.GetBatchFunc(ctx, 64, use)
					got += k
				}
			}
		}
	})
}

// TestCloseHoldingAdoptedRun: a consumer adopts the run of a consumer
// killed inside GetBatchFunc, delivers one of its messages and closes; a
// newcomer that attaches meanwhile does not take over (and wipe) the
// closed handle's claim, and the next consumer delivers the rest, in
// order.
func TestCloseHoldingAdoptedRun(t *testing.T) {
	seg, r, ctx := killedGetRun(t, 4, 0)
	buf := make([]byte, 64)
	seqOf := func(h *ringbuf.MPMC) int {
		t.Helper()
		n, err := h.Get(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		_, seq, err := checkMessage(buf[:n], 64)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	adopter, err := ringbuf.OpenMPMC(seg, "q")
	if err != nil {
		t.Fatal(err)
	}
	if seq := seqOf(adopter); seq != 0 {
		t.Fatalf("adopter got message %d first, want 0", seq)
	}
	adopter.Close() // three of the adopted run still to deliver
	newcomer, err := ringbuf.OpenMPMC(seg, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer newcomer.Close()
	if err := newcomer.AttachProducer(); err != nil {
		t.Fatal(err)
	}
	for want := 1; want < 4; want++ {
		if seq := seqOf(r); seq != want {
			t.Fatalf("got message %d, want %d", seq, want)
		}
	}
	assertDrained(t, r)
}
