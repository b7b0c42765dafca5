package queue

import (
	"testing"

	"github.com/shmkit/shmkit/codec"
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
