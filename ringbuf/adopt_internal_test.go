package ringbuf

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// Adoption of a dead consumer's claim delivers its message exactly once.
// These place the races by hand, on handles of one process whose Close
// makes them read as departed.

func adoptRing(t *testing.T, n int) (*MPMC, []*MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPMC(seg, "r", 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]*MPMC, n)
	for i := range hs {
		if hs[i], err = OpenMPMC(seg, "r"); err != nil {
			t.Fatal(err)
		}
		if err := hs[i].AttachConsumer(); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := r.TryPut([]byte("M")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	return r, hs
}

// TestAdoptNotFromALosersStaleClaim: consumers a and b race for a message
// and b wins; a, which stored the same claim before its CAS lost, then
// closes. While b is still taking the message, another consumer must not
// take a's leftover claim for a dead owner's and deliver the message again.
func TestAdoptNotFromALosersStaleClaim(t *testing.T) {
	_, hs := adoptRing(t, 3)
	a, b, c := hs[0], hs[1], hs[2]
	got := 0
	ok, err := b.TryGetFunc(func([]byte) {
		got++
		a.parts.word(a.part, partOffDeqClaim).Store(1) // as a's lost race for position 0 would leave it (before the fix)
		a.Close()
		if _, err := RescueEmpty(c); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.TryGet(make([]byte, 8)); ok {
			got++
		}
	})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got != 1 {
		t.Fatalf("one message put, delivered %d times", got)
	}
}

// TestAdoptAfterAnAdopterDied: consumer d claims the message and dies; x
// begins to adopt it (stores the claim) and dies before its CAS. y adopts
// it; while y takes it, z must not adopt the copy of the claim x left.
func TestAdoptAfterAnAdopterDied(t *testing.T) {
	_, hs := adoptRing(t, 4)
	d, x, y, z := hs[0], hs[1], hs[2], hs[3]
	d.parts.word(d.part, partOffDeqClaim).Store(1) // d claims position 0
	if !d.deq.CompareAndSwap(0, 1) {
		t.Fatal("deq")
	}
	d.Close() // and dies
	x.parts.word(x.part, partOffDeqClaim).Store(1)
	x.Close() // dies between its store and its CAS
	got := 0
	if _, err := RescueEmpty(y); err != nil {
		t.Fatal(err)
	}
	ok, err := y.TryGetFunc(func([]byte) {
		got++
		if _, err := RescueEmpty(z); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := z.TryGet(make([]byte, 8)); ok {
			got++
		}
	})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got != 1 {
		t.Fatalf("one message put, delivered %d times", got)
	}
}

// TestLimitPutParks: a Put held at WithLimit's bound sleeps (it spun at
// full speed, and so never ran its peer checks) until the context ends.
func TestLimitPutParks(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := NewMPMC(seg, "r", 4, 8, WithLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(context.Background(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	err = r.Put(ctx, []byte("b"))
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	used := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	// A parked Put uses a few ms (its spin, its polls); a spinning one all
	// 300 ms of a core. The bound is far from both, whatever the load.
	if used > 150*time.Millisecond {
		t.Fatalf("a Put blocked 300 ms at the limit used %v of CPU", used)
	}
}
