package shm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// BenchmarkCreateOpenCloseUnlink measures a segment's whole life: create
// (with fallocate and header), open from a second mapping, close both,
// unlink. One op is one round trip.
func BenchmarkCreateOpenCloseUnlink(b *testing.B) {
	for _, size := range []int64{4 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			name := shmtest.Name(b)
			lat := benchutil.NewLatency()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				s, err := shm.Create(name, size)
				if err != nil {
					b.Fatal(err)
				}
				o, err := shm.Open(name)
				if err != nil {
					s.Unlink()
					b.Fatal(err)
				}
				o.Close()
				s.Close()
				if err := shm.Unlink(name); err != nil {
					b.Fatal(err)
				}
				lat.Record(time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			benchutil.ReportRate(b, b.N, 0, elapsed)
			lat.Report(b)
		})
	}
}

// BenchmarkLookup measures a Lookup by name
// in a directory of 32 objects.
func BenchmarkLookup(b *testing.B) {
	s := shmtest.Segment(b, 1<<16)
	for i := 0; i < 32; i++ {
		if _, err := s.Alloc(string(rune('a'+i%26))+string(rune('a'+i/26)), shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Lookup("fb", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("size=%dMiB", n>>20)
	}
	return fmt.Sprintf("size=%dKiB", n>>10)
}
