package semaphore

// A Barrier waiter that looks at the phase late (its process stopped, or
// more callers than parties, which fill the next generation first) learns
// whether its own generation was released from the resets word: see the
// phase comment in barrier.go.

// Generation numbers (phase>>2) wrap at 2^30: differences are taken
// modulo that, and one of genHalf or more is a generation before.
const (
	genMask = 1<<30 - 1
	genHalf = 1 << 29
)

// resetsSpan is how many generations the resets word covers back from the
// latest reset one: a waiter released more generations than that before
// the latest Reset, and looking only after it, cannot tell.
const resetsSpan = 32

// logReset records in the resets word, for a mover out of phase p (which
// carries bReset) under lock, that the generation before p was reset: its
// waiters, looking two generations late or more, learn it there (see
// released). The mover's CAS may lose to another's, which finds bReset too
// and logs the same.
func (b *Barrier) logReset(p uint32) {
	g := (p>>2 - 1) & genMask
	w := b.resets.Load()
	last, mask := uint32(w)&genMask, uint32(w>>32)
	if d := (g - last) & genMask; d < resetsSpan {
		mask = mask<<d | 1 // generation last becomes bit d; g bit 0
	} else {
		mask = 1 // the logged ones are all resetsSpan or more before g
	}
	b.resets.Store(uint64(mask)<<32 | uint64(g))
}

// released reports whether generation p ended by its release, for a waiter
// of p that found the phase at np (moved from p). At p's own generation np
// is a break; one generation on, np says it (bReset, or not); two or more
// on, the resets word does, since the mover out of p's successor logged p
// if p was reset. A waiter that the word no longer covers (a Reset
// resetsSpan generations or more after p came first) cannot tell and
// counts p as broken: ErrBroken beside its release, never a release
// beside a Reset.
//
// Whether the latest reset logged is at or after p is read against the
// phase loaded after the word: every generation the word holds is before
// that phase's (a mover logs the generation before the phase it read),
// so a logged generation in [p, now) is one since p, and any other is
// one before it, however long ago. Taken as "after p" when less than half
// the range ahead, a reset logged 2^29 generations back (or the empty
// word's generation 0, that far back) read as one more than resetsSpan
// after p, and every late waiter of a released generation got ErrBroken
// (TestBarrierWaiterOutrun/released-far-on). Only a reset 2^30
// generations back, within the waiter's lateness of p's own number, is
// still read as one since p: the phase's own wrap, which a futex wait on
// it shares.
func (b *Barrier) released(p, np uint32) bool {
	g := p >> 2
	switch (np>>2 - g) & genMask {
	case 0:
		return false // p|bBroken
	case 1:
		return np&bReset == 0
	}
	w := b.resets.Load() // observes: logReset of the movers since p
	last, mask := uint32(w)&genMask, uint32(w>>32)
	if mask == 0 {
		return true // no reset ever logged (a log sets bit 0)
	}
	late := (b.phase.Load()>>2 - g) & genMask // after the word: its generations are all before this one
	switch d := (last - g) & genMask; {
	case d >= late: // the latest reset logged is before g
		return true
	case d < resetsSpan:
		return mask>>d&1 == 0
	}
	return false
}
