package queue

import (
	"context"
	"math"
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestFixedSlotStride: a codec of fixed-size messages gets slots of the
// message and its header rounded up to 8 bytes once they fill a line, a
// whole line below that, and at least Options.SlotSize; a codec whose
// messages vary keeps slots of whole lines.
func TestFixedSlotStride(t *testing.T) {
	stride := func(z sizing) int { return z.slotPayload() + slotHeader }
	for _, c := range []struct {
		name string
		z    sizing
		want int
	}{
		{"[64]byte", sizeFor(codec.MustBinary[[64]byte](), Options[[64]byte]{}, false), 80},
		{"[56]byte", sizeFor(codec.MustBinary[[56]byte](), Options[[56]byte]{}, false), 72},
		{"[60]byte", sizeFor(codec.MustBinary[[60]byte](), Options[[60]byte]{}, false), 80},
		{"[48]byte", sizeFor(codec.MustBinary[[48]byte](), Options[[48]byte]{}, false), 64},
		{"int64", sizeFor(codec.MustBinary[int64](), Options[int64]{}, false), 64},
		{"[200]byte", sizeFor(codec.MustBinary[[200]byte](), Options[[200]byte]{}, false), 216},
		{"[64]byte SlotSize 112", sizeFor(codec.MustBinary[[64]byte](), Options[[64]byte]{SlotSize: 112}, false), 128},
		{"[64]byte SlotSize 8", sizeFor(codec.MustBinary[[64]byte](), Options[[64]byte]{SlotSize: 8}, false), 80},
		{"string SlotSize 64", sizeFor(codec.Default[string](), Options[string]{SlotSize: 64}, false), 128},
	} {
		if got := stride(c.z); got != c.want {
			t.Errorf("%s: slots of %d bytes, want %d", c.name, got, c.want)
		}
	}
	// The default queue of [64]byte: 4096 slots of 80 bytes (320 KiB),
	// held to its 1024 messages.
	if z := sizeFor(codec.MustBinary[[64]byte](), Options[[64]byte]{}, true); z.slots != 4096 {
		t.Errorf("default [64]byte queue: %d slots, want 4096", z.slots)
	}
}

// TestNegativeSlotSize: a negative SlotSize is refused, as the other
// negative bounds are.
func TestNegativeSlotSize(t *testing.T) {
	if q, err := New(Options[[64]byte]{SlotSize: -1}); err == nil {
		q.Close()
		t.Fatal("New with SlotSize -1: no error")
	}
	if q, err := New(Options[string]{SlotSize: -64}); err == nil {
		q.Close()
		t.Fatal("New with SlotSize -64: no error")
	}
}

// TestSlotBeyondRing: a SlotSize, or a fixed-size codec's MaxMessage,
// past the largest slot a ring holds is refused before anything is
// sized (a SlotSize near the largest int wrapped the fixed slot's sum to
// a 48-byte slot for 64-byte messages, and 1<<30 asked for a segment of
// a terabyte), as is a variable codec's slot padded past it; a variable
// codec's SlotSize over it with a smaller MaxMessage, or a MaxMessage
// that goes out of line, is still made.
func TestSlotBeyondRing(t *testing.T) {
	for _, o := range []Options[[64]byte]{
		{SlotSize: math.MaxInt},
		{SlotSize: 1 << 30},
		{SlotSize: ringbuf.MaxSlotBytes + 1},
		{MaxMessage: ringbuf.MaxSlotBytes + 1},
	} {
		if q, err := New(o); err == nil {
			q.Close()
			t.Errorf("New(%+v): no error", o)
		}
	}
	for _, slot := range []int{math.MaxInt, ringbuf.MaxSlotBytes - 1} { // the latter padded past it
		if q, err := New(Options[string]{SlotSize: slot, MaxSize: 2}); err == nil {
			q.Close()
			t.Errorf("New of strings with SlotSize %d: no error", slot)
		}
	}
	// Still made: a codec whose messages vary holds its slot to
	// MaxMessage, and puts what is larger out of line.
	for _, o := range []Options[string]{
		{SlotSize: 1 << 30, MaxMessage: 1024, MaxSize: 16},
		{MaxMessage: 1 << 30, MaxSize: 16},
		{SlotSize: ringbuf.MaxSlotBytes - 64, MaxSize: 2}, // 16 MiB - 16 with its header's line
	} {
		q, err := New(o)
		if err != nil {
			t.Errorf("New(%+v): %v", o, err)
			continue
		}
		if err := q.Put(context.Background(), "x"); err != nil {
			t.Errorf("New(%+v): Put: %v", o, err)
		}
		q.Close()
	}
}

// TestFixedSlotsAcrossHandles: queues of fixed-size messages whose slots
// straddle lines (72 bytes for [56]byte) or are widened by SlotSize carry
// messages intact between a creator and a handle that opened it.
func TestFixedSlotsAcrossHandles(t *testing.T) {
	ctx := context.Background()
	seg := shmtest.Segment(t, 4<<20)
	check := func(t *testing.T, name string, o Options[[56]byte], stride int) {
		q, err := Create(seg, name, o)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if got := q.ring.SlotBytes() + slotHeader; got != stride {
			t.Fatalf("slots of %d bytes, want %d", got, stride)
		}
		h, err := Open(seg, name, Options[[56]byte]{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		for i := 0; i < 3000; i++ { // laps of the ring
			v := [56]byte{0: byte(i), 55: byte(i >> 8)}
			if err := q.Put(ctx, v); err != nil {
				t.Fatal(err)
			}
			got, err := h.Get(ctx)
			if err != nil || got != v {
				t.Fatalf("message %d: got %v, %v", i, got[:2], err)
			}
		}
	}
	t.Run("packed", func(t *testing.T) { check(t, "p", Options[[56]byte]{MaxSize: 64}, 72) })
	t.Run("widened", func(t *testing.T) { check(t, "w", Options[[56]byte]{MaxSize: 64, SlotSize: 200}, 216) })
}
