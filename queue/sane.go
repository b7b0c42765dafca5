package queue

import (
	"fmt"

	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// sane checks the control block's invariants, for tests (as tidwall/btree
// keeps Sane beside its tests): the flags and the shutdown word hold known
// values, the counters are within their bounds, and every peer word names a
// process (PID above zero). Run it while nobody is mid-Put or mid-Get.
func (c *control) sane(ringLen, ringCap int) error {
	if v := c.shutdown.Load(); v > 1 {
		return fmt.Errorf("%w: shutdown word %d", ErrCorrupt, v)
	}
	if v := c.overflow.Load(); v > 1 {
		return fmt.Errorf("%w: overflow word %d", ErrCorrupt, v)
	}
	if ringLen < 0 || ringLen > ringCap || (c.maxSize != 0 && ringLen > int(c.maxSize)) {
		return fmt.Errorf("%w: ring holds %d of %d (bound %d)", ErrCorrupt, ringLen, ringCap, c.maxSize)
	}
	for i, r := range c.tasks {
		if w := r.ident.Load(); w != 0 && procinfo.FromWord(w).Pid <= 0 {
			return fmt.Errorf("%w: task record %d held by %#x, no process", ErrCorrupt, i, w)
		}
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
