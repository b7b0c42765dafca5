package ringbuf

import (
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// mpscPair makes an MPSC ring of capacity bytes in a segment of its own
// and returns its consumer handle (the creator's) and a producer handle
// opened by name, both closed when the test ends.
func mpscPair(t *testing.T, capacity int, opts ...Option) (c, p *MPSC) {
	t.Helper()
	seg := shmtest.Segment(t, int64(2*capacity+1<<15))
	c, err := NewMPSC(seg, "r", capacity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if p, err = OpenMPSC(seg, "r"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return c, p
}
