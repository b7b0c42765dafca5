package ringbuf

import (
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/procinfo"
)

// slotTable is the participants table of a ring: n slots of slotSize bytes,
// each owned by one handle of one process (see layout.go).
type slotTable struct {
	mem []byte // n*slotSize bytes
	n   int
}

func (t *slotTable) owner(i int) *atomic.Uint64 { return u64(t.mem, uint64(i*slotSize+slotOffOwner)) }
func (t *slotTable) gen(i int) *atomic.Uint32   { return u32(t.mem, uint64(i*slotSize+slotOffGen)) }
func (t *slotTable) word(i, off int) *atomic.Uint64 {
	return u64(t.mem, uint64(i*slotSize+off))
}
func (t *slotTable) word32(i, off int) *atomic.Uint32 {
	return u32(t.mem, uint64(i*slotSize+off))
}

// take attaches the calling process to a slot: a free one (owner 0) if
// there is one, else one whose owner is dead and for which reusable(i)
// holds. It bumps the slot's gen and returns the slot and the new gen.
func (t *slotTable) take(reusable func(i int) bool) (int, uint32, error) {
	me := procinfo.Self().Word()
	for i := 0; i < t.n; i++ {
		if t.owner(i).CompareAndSwap(0, me) { // free -> mine
			return i, t.gen(i).Add(1), nil
		}
	}
	pending := false
	for i := 0; i < t.n; i++ {
		w := t.owner(i).Load()
		if w == 0 || w == me || procinfo.AliveWord(w) {
			continue
		}
		if reusable != nil && !reusable(i) {
			pending = true
			continue
		}
		if t.owner(i).CompareAndSwap(w, me) { // dead owner's -> mine
			return i, t.gen(i).Add(1), nil
		}
	}
	if pending {
		return -1, 0, errSlotPending
	}
	return -1, 0, fmt.Errorf("%w: all %d slots are held", ErrBusy, t.n)
}

// release gives slot i back (mine -> free).
func (t *slotTable) release(i int) {
	t.owner(i).CompareAndSwap(procinfo.Self().Word(), 0) // mine -> free
}

// liveness reports whether any slot accepted by match is held by a live
// process, and whether any is held by a dead one.
func (t *slotTable) liveness(match func(i int) bool) (live, dead bool) {
	for i := 0; i < t.n; i++ {
		w := t.owner(i).Load()
		if w == 0 || (match != nil && !match(i)) {
			continue
		}
		if procinfo.AliveWord(w) {
			return true, dead
		}
		dead = true
	}
	return false, dead
}
