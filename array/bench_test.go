package array_test

import (
	"testing"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/shmtest"
)

const mib = 1 << 20

// benchmarkRead runs read, which reads 1 MiB, b.N times and reports
// MB/s and GB/s.
func benchmarkRead(b *testing.B, read func()) {
	b.SetBytes(mib)
	b.ReportAllocs()
	start := time.Now()
	for range b.N {
		read()
	}
	elapsed := time.Since(start)
	benchutil.ReportRate(b, b.N, mib, elapsed)
	b.ReportMetric(float64(b.N)*mib/elapsed.Seconds()/1e9, "GB/s")
}

var sum uint64

func sumOf(s []uint64) (t uint64) {
	for _, x := range s {
		t += x
	}
	return t
}

// BenchmarkRead1MiB reads a 1 MiB Array[uint64] through the zero-copy
// view (summing it, and copying it out), through the seqlocked CopyTo,
// and, as the baselines in the same run, a plain copy and sum of a heap
// slice.
func BenchmarkRead1MiB(b *testing.B) {
	seg := shmtest.Segment(b, 2*mib)
	a, err := array.Create[uint64](seg, "a", mib/8)
	if err != nil {
		b.Fatal(err)
	}
	for i := range a.Slice() {
		a.Slice()[i] = uint64(i)
	}
	heap := make([]uint64, mib/8)
	copy(heap, a.Slice())
	dst := make([]uint64, mib/8)
	b.Run("view-sum", func(b *testing.B) { benchmarkRead(b, func() { sum += sumOf(a.Slice()) }) })
	b.Run("view-copy", func(b *testing.B) { benchmarkRead(b, func() { copy(dst, a.Slice()) }) })
	b.Run("CopyTo", func(b *testing.B) { benchmarkRead(b, func() { a.CopyTo(dst) }) })
	b.Run("baseline-heap-sum", func(b *testing.B) { benchmarkRead(b, func() { sum += sumOf(heap) }) })
	b.Run("baseline-heap-copy", func(b *testing.B) { benchmarkRead(b, func() { copy(dst, heap) }) })
}

// BenchmarkElement: At (seqlock read) and Set (under the lock) of one
// element, beside the raw variant's plain accesses.
func BenchmarkElement(b *testing.B) {
	seg := shmtest.Segment(b, 1<<16)
	a, _ := array.Create[int64](seg, "a", 64)
	r, _ := array.CreateRaw[int64](seg, "r", 64)
	var s int64
	b.Run("At", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s += a.At(i & 63)
		}
	})
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a.Set(i&63, int64(i))
		}
	})
	b.Run("raw-At", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s += r.At(i & 63)
		}
	})
	b.Run("raw-Set", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.Set(i&63, int64(i))
		}
	})
	sum += uint64(s)
}
