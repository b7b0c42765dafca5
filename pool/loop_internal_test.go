package pool

import (
	"context"
	"testing"
)

// BenchmarkRunRange: the worker's loop over a chunk of int64 with a
// function per element (MapShared's inner loop), beside a plain loop that
// doubles in place, in one process.
func BenchmarkRunRange(b *testing.B) {
	const n = 1 << 16
	ins, outs := make([]int64, n), make([]int64, n)
	ctx := context.Background()
	b.Run("func", func(b *testing.B) {
		b.SetBytes(8 * n)
		for b.Loop() {
			double.runRange(ctx, ins, outs)
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(8 * n)
		for b.Loop() {
			for i, x := range ins {
				outs[i] = 2 * x
			}
		}
	})
}
