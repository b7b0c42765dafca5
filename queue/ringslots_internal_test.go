package queue

import "testing"

// TestRingSlots: a ring gets MaxSize rounded up to a power of two, more
// while it spans under 256 KiB (up to 4 × MaxSize), and, for fixed-size
// messages, twice MaxSize or more while it spans at most 4 MiB.
func TestRingSlots(t *testing.T) {
	for _, c := range []struct {
		maxSize, stride int
		spare           bool
		want            int
	}{
		{1024, 128, true, 2048},   // 256 KiB
		{1024, 80, true, 4096},    // the default queue of [64]byte: 320 KiB
		{1000, 128, true, 2048},   // a bound that is not a power of two
		{2048, 128, true, 4096},   // spare
		{2048, 128, false, 2048},  // a variable-size codec: none
		{4096, 128, true, 8192},   // 1 MiB
		{16384, 128, true, 32768}, // 4 MiB, the most that gets spare
		{32768, 128, true, 32768}, // 8 MiB would be past it
		{64, 128, true, 256},      // 4 × MaxSize, 32 KiB
		{3, 128, true, 8},         // within 4 × 3
		{1024, 256, true, 2048},   // the largest slot that gets spare
		{1024, 320, true, 1024},   // larger slots keep their memory
		{512, 4096, true, 512},
	} {
		got := ringSlots(c.maxSize, c.stride, c.spare)
		if got != c.want {
			t.Errorf("ringSlots(%d, %d, %v) = %d, want %d", c.maxSize, c.stride, c.spare, got, c.want)
		}
		if got > 4*c.maxSize && got > 2 {
			t.Errorf("ringSlots(%d, %d, %v) = %d: past 4 × MaxSize, the most Create's doc sizes for", c.maxSize, c.stride, c.spare, got)
		}
	}
}
