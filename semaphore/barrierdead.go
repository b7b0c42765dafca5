package semaphore

import (
	"fmt"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
)

// A Barrier's party table and the waiters' periodic look for the dead:
// see the Barrier's doc.

// record counts a party of this process as waiting, under lock: in the
// slot that names this process, else in a free one. With every slot taken
// by other processes the party goes unrecorded (its death goes unnoticed).
func (b *Barrier) record() {
	me := procinfo.Self().Word()
	free := -1
	for i := range b.slots {
		switch b.slots[i].ident.Load() {
		case me:
			b.slots[i].count.Add(1)
			return
		case 0:
			if free < 0 {
				free = i
			}
		}
	}
	if free >= 0 {
		b.slots[free].count.Store(1)
		b.slots[free].ident.Store(me)
	}
}

// clearSlots empties the party table for a new generation, under lock.
func (b *Barrier) clearSlots() {
	for i := range b.slots {
		b.slots[i].ident.Store(0)
		b.slots[i].count.Store(0)
	}
}

// partyDied is the error a waiter's periodic check gives when it finds a
// dead party.
type partyDied struct {
	pid    int32
	inLock bool // it died holding the barrier's lock
	moving bool // it died moving the phase, between the lock's release and the CAS (the action's run, for a release)
}

func (e partyDied) Error() string {
	switch {
	case e.inLock:
		return fmt.Sprintf("process %d, a party, died inside the barrier", e.pid)
	case e.moving:
		return fmt.Sprintf("process %d died releasing or resetting the barrier (or in its action)", e.pid)
	}
	return fmt.Sprintf("process %d, a party, died waiting", e.pid)
}

// checkParties is the waiters' periodic check (atomics.WaitOptions.Check):
// a dead process recorded with parties waiting, a dead holder of the lock
// (which may have counted its party without recording it), or a dead
// mover of a shut generation (a release or Reset, which cleared the party
// table, or a last party running the action, which is not in it), or a
// shut generation that names no mover, garbage from a peer, which an
// arrival waited on until its ctx ended (TestBarrierCorruptClosing). It
// reads /proc for each recorded process but this one, once per poll period
// per handle however many of its goroutines wait.
func (b *Barrier) checkParties() error {
	now, last := int64(time.Since(processStart)), b.checked.Load()
	if last != 0 && now-last < int64(mutexPoll)/2 || !b.checked.CompareAndSwap(last, now) {
		return nil // another waiter of this handle looked moments ago
	}
	for i := range b.slots {
		w := b.slots[i].ident.Load()
		if w != 0 && b.slots[i].count.Load() != 0 && !procinfo.AliveWord(w) {
			return partyDied{pid: procinfo.FromWord(w).Pid}
		}
	}
	if v := b.lock.state.Load(); b.lock.ownerDead(v) {
		return partyDied{pid: int32(v & mPidMask), inLock: true}
	}
	if b.closing.Load() == b.phase.Load()+1 { // shut: its mover is between the lock and the CAS, or in the action
		switch w := b.closer.Load(); {
		case w == 0: // a shut names its mover first (see shut): garbage, and nobody would move the phase
			return fmt.Errorf("%w: the barrier's generation is shut and no mover is named", ErrCorrupt)
		case !procinfo.AliveWord(w):
			return partyDied{pid: procinfo.FromWord(w).Pid, moving: true}
		}
	}
	return nil
}
