package ringbuf_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestOpenCorrupt opens rings whose capacity word a hostile or buggy peer
// overwrote: every Open must return ErrCorrupt and no handle at all (a
// half-built one panics on first use).
func TestOpenCorrupt(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	if _, err := ringbuf.NewSPSC(seg, "spsc", 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := ringbuf.NewMPSC(seg, "mpsc", 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := ringbuf.NewMPMC(seg, "mpmc", 8, 64); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"spsc", "mpsc", "mpmc"} {
		obj, err := seg.Lookup(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The capacity is the body's first word in every ring layout; 3 is
		// no power of two.
		binary.LittleEndian.PutUint64(obj.Body, 3)
	}
	check := func(name string, isNil bool, err error) {
		t.Helper()
		if !errors.Is(err, ringbuf.ErrCorrupt) || !isNil {
			t.Errorf("Open %s on a corrupt ring: nil handle %v, error %v; want a nil handle and ErrCorrupt", name, isNil, err)
		}
	}
	s, err := ringbuf.OpenSPSC(seg, "spsc")
	check("SPSC", s == nil, err)
	m, err := ringbuf.OpenMPSC(seg, "mpsc")
	check("MPSC", m == nil, err)
	mm, err := ringbuf.OpenMPMC(seg, "mpmc")
	check("MPMC", mm == nil, err)
}
