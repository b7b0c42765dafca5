package ringbuf

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestPrefetchAheadCorruptState: an MPSC producer's prefetch past its claim
// stays inside the ring's data whatever the shared words and the cached
// head hold: Reserve on a ring whose head and tail were overwritten (any
// aligned pair, near the lap's end, near overflow, head past tail, tail
// laps ahead of the cached head) returns a reservation, no room or
// ErrCorrupt, never a panic; prefetchAhead itself too, over every
// position and cached head around the laps.
func TestPrefetchAheadCorruptState(t *testing.T) {
	for _, capacity := range []int{MinCapacity, 1024} {
		seg := shmtest.Segment(t, 1<<16)
		r, err := NewMPSC(seg, "r", capacity)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := r.TryWrite([]byte("x")); !ok || err != nil {
			t.Fatal(ok, err)
		}
		c := uint64(capacity)
		var vals []uint64
		for _, base := range []uint64{0, c, 5 * c, 1 << 40, ^uint64(0) - 3*c} {
			base &^= recordAlign - 1
			for d := uint64(0); d <= 2*c; d += recordAlign {
				vals = append(vals, base+d)
			}
		}
		for _, h := range vals {
			for _, pos := range vals {
				r.p.headCache = h
				r.prefetchAhead(pos)
			}
		}
		sizes := []int{0, 1, 8, 24, r.MaxRecord()}
		for i, tail := range vals {
			if i%3 != 0 {
				continue
			}
			for j, head := range vals {
				if j%5 != 0 {
					continue
				}
				for _, hc := range []uint64{0, head, tail, tail - c, tail + c} {
					for _, n := range sizes {
						r.tail.Store(tail)
						r.head.Store(head)
						r.p.headCache = hc
						func() {
							defer func() {
								if p := recover(); p != nil {
									t.Fatalf("capacity %d tail %d head %d headCache %d, %d bytes: panic %v", c, tail, head, hc, n, p)
								}
							}()
							if _, ok, _ := r.tryReserve(n); ok {
								r.cancel()
							}
						}()
					}
				}
			}
		}
		r.Close()
	}
}
