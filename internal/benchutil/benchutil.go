// Package benchutil reports the figures every shmkit benchmark gives:
// messages and bytes per second, latency percentiles from an HdrHistogram,
// side by side with a baseline measured in the same run.
package benchutil

import (
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// Latency records durations into an HdrHistogram (1 ns to 10 s, 3
// significant figures). Record does not allocate.
type Latency struct{ h *hdrhistogram.Histogram }

// NewLatency returns an empty recorder.
func NewLatency() *Latency {
	return &Latency{h: hdrhistogram.New(1, int64(10*time.Second), 3)}
}

// Record adds one observation.
func (l *Latency) Record(d time.Duration) { _ = l.h.RecordValue(int64(d)) }

// RecordNanos adds one observation in nanoseconds.
func (l *Latency) RecordNanos(ns int64) { _ = l.h.RecordValue(ns) }

// Percentile returns the p-th percentile (0 < p <= 100).
func (l *Latency) Percentile(p float64) time.Duration {
	return time.Duration(l.h.ValueAtQuantile(p))
}

// reset empties the recorder.
func (l *Latency) reset() { l.h.Reset() }

// Count returns the number of observations.
func (l *Latency) Count() int64 { return l.h.TotalCount() }

// Report adds p50-ns, p99-ns and p999-ns metrics to b.
func (l *Latency) Report(b *testing.B) {
	if l.h.TotalCount() == 0 {
		return
	}
	b.ReportMetric(float64(l.h.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99)), "p99-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99.9)), "p999-ns")
}

// ReportRate adds msgs/s and, when msgSize > 0, MB/s metrics to b for msgs
// messages of msgSize bytes moved in elapsed.
func ReportRate(b *testing.B, msgs int, msgSize int, elapsed time.Duration) {
	if elapsed <= 0 {
		return
	}
	s := elapsed.Seconds()
	b.ReportMetric(float64(msgs)/s, "msgs/s")
	if msgSize > 0 {
		b.ReportMetric(float64(msgs)*float64(msgSize)/s/1e6, "MB/s")
	}
}

// ObjectLife measures the life of one small shared object (make it, give
// it up) three ways, as sub-benchmarks of b reporting allocs/op: name, the
// short form newClose (in the process's heap), beside a segment of its
// own for each object with create placing it there, named (Create,
// Unlink, Close: what processes that find each other by name pay) and
// anonymous.
func ObjectLife(b *testing.B, name string, newClose func() error, create func(seg *shm.Segment) error) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := newClose(); err != nil {
				b.Fatal(err)
			}
		}
	})
	life := func(b *testing.B, mk func() (*shm.Segment, error)) {
		b.ReportAllocs()
		for b.Loop() {
			seg, err := mk()
			if err != nil {
				b.Fatal(err)
			}
			if err := create(seg); err != nil {
				b.Fatal(err)
			}
			seg.Unlink()
			seg.Close()
		}
	}
	b.Run("named-segment+Create", func(b *testing.B) {
		life(b, func() (*shm.Segment, error) { return shm.Create(shmtest.Name(b), 4096) })
	})
	b.Run("anon-segment+Create", func(b *testing.B) {
		life(b, func() (*shm.Segment, error) { return shm.CreateAnon(4096) })
	})
}

// Share is producer g's share of total messages among producers: they
// differ by one at most, and add up to total.
func Share(total, producers, g int) int {
	n := total / producers
	if g < total%producers {
		n++
	}
	return n
}

// Producers runs send in producers goroutines at once, giving goroutine g
// its share n of total messages (they differ by one at most), and returns
// the first error any of them returned once all are done: the producer
// side of a many-producer stream.
func Producers(producers, total int, send func(g, n int) error) error {
	errs := make(chan error, producers)
	for g := 0; g < producers; g++ {
		n := Share(total, producers, g)
		go func() { errs <- send(g, n) }()
	}
	var first error
	for g := 0; g < producers; g++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
