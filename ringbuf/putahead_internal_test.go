package ringbuf

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestPutAheadSlots: a producer asks for the lines of the slot 32 KiB past
// its claim, and not at all in a ring of less than twice that.
func TestPutAheadSlots(t *testing.T) {
	for _, c := range []struct{ capacity, stride, want uint64 }{
		{2048, 128, 256}, // the default queue of [64]byte
		{1024, 128, 256},
		{512, 128, 0}, // half the ring: none
		{256, 128, 0},
		{4096, 64, 512},
		{2, 64, 0},
		{16, 64 << 10, 1}, // a slot larger than the distance: the next one
		{2, 64 << 10, 0},
	} {
		if got := putAheadSlots(c.capacity, c.stride); got != c.want {
			t.Errorf("putAheadSlots(%d, %d) = %d, want %d", c.capacity, c.stride, got, c.want)
		}
	}
}

// TestPutAheadStaysInRing: Puts and Gets through a ring that prefetches
// ahead, across several laps and at any starting position (corrupt or
// near the 2^64 wrap), deliver every message and never touch memory past
// the ring's slots (prefetchSlot indexes cells: a slot past them panics).
func TestPutAheadStaysInRing(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := NewMPMC(seg, "r", 1024, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.ahead == 0 {
		t.Fatalf("a ring of 1024 slots of stride %d makes no prefetch", r.stride)
	}
	for pos := uint64(0); pos < 3*r.capacity; pos++ {
		r.prefetchSlot(pos)
	}
	for _, start := range []uint64{0, 1000, ^uint64(0) - 100} {
		emptyAt(r, start)
		for i := range 3 * r.capacity {
			msg := []byte{byte(i), byte(i >> 8)}
			if ok, err := r.TryPut(msg); !ok || err != nil {
				t.Fatalf("start %d, put %d: %v %v", start, i, ok, err)
			}
			buf := make([]byte, 100)
			n, ok, err := r.TryGet(buf)
			if !ok || err != nil || n != 2 || buf[0] != byte(i) || buf[1] != byte(i>>8) {
				t.Fatalf("start %d, get %d: %d %v %v %v", start, i, n, ok, err, buf[:2])
			}
		}
	}
}

// TestPutAheadEveryHandle: every way an MPMC handle is made (created,
// opened with other options, decoded from its gob handle) prefetches the
// same distance ahead: init is the one place that sets it.
func TestPutAheadEveryHandle(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := NewMPMC(seg, "r", 2048, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := putAheadSlots(2048, r.stride)
	if want == 0 || r.ahead != want {
		t.Fatalf("created: ahead %d, want %d (non-zero)", r.ahead, want)
	}
	o, err := OpenMPMC(seg, "r", WithSpin(1))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.ahead != want {
		t.Fatalf("opened: ahead %d, want %d", o.ahead, want)
	}
	b, err := r.GobEncode()
	if err != nil {
		t.Fatal(err)
	}
	var d MPMC
	if err := d.GobDecode(b); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.ahead != want {
		t.Fatalf("decoded: ahead %d, want %d", d.ahead, want)
	}
	if ok, err := d.TryPut([]byte("x")); !ok || err != nil {
		t.Fatalf("put through the decoded handle: %v %v", ok, err)
	}
}
