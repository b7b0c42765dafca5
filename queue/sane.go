package queue

import (
	"fmt"

	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// sane checks the control block's invariants, for tests (as tidwall/btree
// keeps Sane beside its tests): the flags and the closed word hold known
// values, the counters are within their bounds, and every peer word names a
// process (PID above zero). Run it while nobody is mid-Put or mid-Get.
func (c *control) sane(ringLen, ringCap int) error {
	if v := c.closed.Load(); v > 1 {
		return fmt.Errorf("%w: closed word %d", ErrCorrupt, v)
	}
	if v := c.overflow.Load(); v > 1 {
		return fmt.Errorf("%w: overflow word %d", ErrCorrupt, v)
	}
	if c.maxSize != 0 {
		if n := c.count.Load(); n < 0 || n > int64(c.maxSize) || int(n) != ringLen {
			return fmt.Errorf("%w: count %d, bound %d, ring holds %d", ErrCorrupt, n, c.maxSize, ringLen)
		}
	}
	if c.maxBytes != 0 {
		if n := c.bytes.Load(); n < 0 || (ringLen == 0 && n != 0) {
			return fmt.Errorf("%w: %d bytes counted with %d messages queued", ErrCorrupt, n, ringLen)
		}
	}
	if ringLen < 0 || ringLen > ringCap {
		return fmt.Errorf("%w: ring holds %d of %d", ErrCorrupt, ringLen, ringCap)
	}
	if c.flags&flagJoinable != 0 && int(c.unfinished.Load()) < ringLen {
		return fmt.Errorf("%w: %d unfinished tasks with %d queued", ErrCorrupt, c.unfinished.Load(), ringLen)
	}
	for _, t := range []struct {
		name string
		p    notify.Peers
	}{{"producer", c.producers}, {"consumer", c.consumers}, {"attached", c.attached}} {
		for i := range t.p {
			if w := t.p[i].Load(); w != 0 && procinfo.FromWord(w).IsZero() {
				return fmt.Errorf("%w: %s slot %d holds %#x, no process", ErrCorrupt, t.name, i, w)
			}
		}
	}
	return nil
}
