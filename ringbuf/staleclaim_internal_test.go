package ringbuf

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
)

// staleClaimBytes is the space staleClaimDieW's claim covers: more than
// the record that won the tail from it.
const staleClaimBytes = 512

// staleClaimDieW stores an MPSC claim as a Write does before its CAS on
// the tail (claim words for staleClaimBytes at the tail), says so in Flag
// and waits to be killed before the CAS: a producer killed after it lost
// its CAS to another leaves such a claim, which covers the other's space.
var staleClaimDieW = process.Register("ringbuf-stale-claim-die", func(ctx context.Context, a claimDieArgs) error {
	r := &a.R.vring
	if err := r.AttachProducer(); err != nil {
		return err
	}
	tail := r.tail.Load()
	r.slots.word(r.p.slot, slotOffClaimPos).Store(tail)
	r.slots.word(r.p.slot, slotOffClaimEnd).Store(tail + staleClaimBytes)
	return holdForKill(a.Flag)
})

// startAndKill starts w on r, waits until it says it got where it is
// killed, and kills it.
func startAndKill(t *testing.T, ctx context.Context, w *process.Func[claimDieArgs], r *MPSC) {
	t.Helper()
	flag := shmtest.Segment(t, 64)
	child, err := w.Start(ctx, claimDieArgs{R: r, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "the child did not get there")
	child.Kill()
	child.Wait()
}

// TestDeadClaimsOverlap: two MPSC producers claim space at the same tail;
// one wins the CAS (16 bytes) and is killed before it writes its header,
// the other loses it and is killed before it claims again, its claim words
// still covering 512 bytes from that tail. A live producer then writes a
// record of 600 bytes after the winner's space. The consumer, finding the
// winner's header 0, must skip to the winner's end and deliver the record,
// not jump to the loser's end, in the middle of the record's payload.
func TestDeadClaimsOverlap(t *testing.T) {
	c, p := mpscPair(t, 4096, WithPoll(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	startAndKill(t, ctx, staleClaimDieW, p) // slot 0: the loser's claim, [0, 512)
	startAndKill(t, ctx, claimDieW, p)      // slot 1: the winner's, [0, 16)
	msg := bytes.Repeat([]byte{0xff}, 600)
	if err := p.Write(ctx, msg); err != nil { // [16, 624)
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	n, err := c.Read(ctx, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("Read after the dead claims = %d bytes, %v; want the %d-byte record", n, err, len(msg))
	}
	if err := Sane(c); err != nil {
		t.Fatal(err)
	}
}

// TestDeadClaimWrittenMeanwhile: a live producer has claimed space at the
// consumer's head and not yet written its header; a producer killed after
// it lost its CAS to it left a claim covering that space and the record
// after it. The consumer's poll finds the header 0 and looks at the
// claims; meanwhile (deadClaimHook) the live producer writes its record
// and claims again elsewhere, so that only the dead claim covers the
// head. The consumer must deliver the live producer's record, not skip to
// the dead claim's end, in the middle of the next record.
func TestDeadClaimWrittenMeanwhile(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := NewMPSC(seg, "r", 4096, WithPoll(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p1, err := OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	p2, err := OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	startAndKill(t, ctx, staleClaimDieW, p1)    // slot 0: the loser's claim, [0, 512)
	if err := p1.AttachProducer(); err != nil { // slot 1: the winner
		t.Fatal(err)
	}
	r1 := &p1.vring
	r1.slots.word(r1.p.slot, slotOffClaimPos).Store(0)
	r1.slots.word(r1.p.slot, slotOffClaimEnd).Store(16)
	if !r1.tail.CompareAndSwap(0, 16) { // claims [0, 16), header not yet written
		t.Fatal("tail moved")
	}
	msg := bytes.Repeat([]byte{0xff}, 600)
	if err := p2.Write(ctx, msg); err != nil { // [16, 624)
		t.Fatal(err)
	}
	deadClaimHook = func() {
		deadClaimHook = nil
		r1.data[recordHeaderSize] = 'a'
		r1.hdr(0).Store(makeHeader(recordHeaderSize+1, r1.p.slot, recMessage, r1.p.gen)) // the winner's record
		if err := p1.Write(ctx, []byte("z")); err != nil {                               // its next claim, [624, 640)
			t.Error(err)
		}
	}
	defer func() { deadClaimHook = nil }()
	buf := make([]byte, len(msg))
	for i, want := range [][]byte{[]byte("a"), msg, []byte("z")} {
		n, err := c.Read(ctx, buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("Read %d = %d bytes, %v; want %d bytes", i, n, err, len(want))
		}
	}
	if deadClaimHook != nil {
		t.Fatal("the consumer never looked at the claims")
	}
	if err := Sane(c); err != nil {
		t.Fatal(err)
	}
}

// TestDeadClaimLiveLoserWaitsForRoom: a producer killed after it won its
// claim at the consumer's head and before it wrote the header; a live
// producer that lost the CAS from the same tail, its claim words still
// covering that header, found no room at the tail it read next and waits
// for the consumer to make some (in Write, and in WriteBatch, which claims
// a run). The consumer must still skip the dead claim (a live claimant
// over it would say the record is coming) and read on, which makes the
// room the live producer waits for.
func TestDeadClaimLiveLoserWaitsForRoom(t *testing.T) {
	writes := map[string]func(ctx context.Context, p *MPSC, msg []byte) error{
		"Write": func(ctx context.Context, p *MPSC, msg []byte) error { return p.Write(ctx, msg) },
		"WriteBatch": func(ctx context.Context, p *MPSC, msg []byte) error {
			_, err := p.WriteBatch(ctx, [][]byte{msg, msg})
			return err
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			seg := shmtest.Segment(t, 1<<16)
			c, err := NewMPSC(seg, "r", 4096, WithPoll(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			loser, err := OpenMPSC(seg, "r")
			if err != nil {
				t.Fatal(err)
			}
			defer loser.Close()
			other, err := OpenMPSC(seg, "r")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
			defer cancel()
			if err := loser.AttachProducer(); err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte{'l'}, 1500)
			r := &loser.vring
			startAndKill(t, ctx, claimDieW, loser) // the winner: [0, 16), header 0
			// The loser's claim from tail 0, as its lost CAS left it.
			r.slots.word(r.p.slot, slotOffClaimPos).Store(0)
			r.slots.word(r.p.slot, slotOffClaimEnd).Store(alignRec(recordHeaderSize + uint64(len(msg))))
			var want [][]byte
			for i := range 2 { // [16, 3040): 1056 bytes left, the loser wants 1512
				rec := bytes.Repeat([]byte{byte('a' + i)}, 1500)
				if err := other.Write(ctx, rec); err != nil {
					t.Fatal(err)
				}
				want = append(want, rec)
			}
			wrote := make(chan error, 1)
			go func() { wrote <- write(ctx, loser, msg) }()
			want = append(want, msg)
			buf := make([]byte, 2048)
			for i, w := range want {
				n, err := c.Read(ctx, buf)
				if err != nil || !bytes.Equal(buf[:n], w) {
					t.Fatalf("Read %d = %d bytes, %v; want %d bytes of %q", i, n, err, len(w), w[0])
				}
			}
			if err := <-wrote; err != nil {
				t.Fatalf("the loser's %s: %v", name, err)
			}
			if err := Sane(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}
