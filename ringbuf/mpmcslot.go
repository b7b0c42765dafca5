package ringbuf

import (
	"context"
	"fmt"
	"time"

	"github.com/shmkit/shmkit/internal/procinfo"
)

// A new MPMC handle's wait for a participant slot, and what it does to
// the slots of dead participants whose claims are not yet resolved (see
// takePart for which can be resolved, by whom).

// awaitPart is a blocking call's answer to the error of its lockPut or
// lockGet (err, role and its lock mu): while the slots to take are dead
// participants' whose claims a live one may yet resolve (errSlotPending),
// it looks again every poll period (WithPoll), as a blocked Put or Get
// looks for dead peers, until ctx is done (its error) or the handle closes
// (ErrClosed), and returns nil once it has attached the handle, mu held.
// Where no live participant can resolve them (errSlotOrphaned) it returns
// ErrPeerDead, and any other err as it is (ErrBusy where every slot is a
// live participant's: see takePart). It waits holding mu, as a Put
// blocked on a full ring holds putMu, so that Close waits for it (and
// wakes it: closing), and says so as a ring wait does (holderWaits), so
// that another goroutine's call behind it gives up at its deadline. Called
// only on that error, it leaves the calls' path as it was.
//
// The wait is a timer, not the ring's futexes: a slot frees up when a
// consumer gives back a dead one's messages or a producer fills a slot a
// dead claim covers, and a waiter counted on either futex would have
// every Get (or Put) of the ring make a wake syscall for it, and itself
// read /proc for every owner at each wake. A slot is free at most a poll
// period before the waiter takes it.
func (r *MPMC) awaitPart(ctx context.Context, err error, role uint32, mu *handleLock) error {
	if err != errSlotPending {
		if err == errSlotOrphaned {
			return r.orphaned()
		}
		return err
	}
	if err := r.lockOpen(ctx, mu); err != nil {
		return err
	}
	mu.holderWaits(true) // another goroutine's call behind it gives up as behind a ring wait
	for {
		if err = r.pollPause(ctx); err == nil {
			err = r.attach(role)
		}
		if err == errSlotPending {
			continue
		}
		mu.holderWaits(false) // while held: a later holder's flag is its own
		switch err {
		case nil:
			return nil // attached, mu held
		case errSlotOrphaned:
			err = r.orphaned()
		}
		mu.Unlock()
		return err
	}
}

// pollPause waits a poll period, or until ctx is done (its error) or the
// handle closes (ErrClosed).
func (r *MPMC) pollPause(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(r.opt.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.closing:
		return ErrClosed
	case <-t.C:
		return nil
	}
}

// orphaned is the error of a producer whose only slots to take hold dead
// consumers' messages that no live participant can deliver
// (errSlotOrphaned).
func (r *MPMC) orphaned() error {
	return fmt.Errorf("%w: ring %q: every participant slot is held, and the ones to take hold messages of dead consumers that no live consumer is left to deliver", ErrPeerDead, r.name)
}

// self returns this handle's participant slot, or -1 before it has a
// role, for the rescues, which package queue runs (RescueEmpty,
// RescueFull) on a handle that may still wait for its slot while another
// of its goroutines attaches: attach stores part before the role, and
// Close, which resets part, takes the lock the rescue holds.
func (r *MPMC) self() int {
	if r.role.Load() == 0 {
		return -1
	}
	return r.part
}

// giveUpDeadPuts gives up the positions of participant i's enqueue claim
// that were claimed and never filled and that only dead producers' claims
// cover (abandonDeadRun, from each: a run's filled slots are left as they
// are), as a consumer does when it reaches them at its head: their
// producers will never fill them, and consumers skip them when they get
// there. Giving them up ahead of the head changes nothing for the
// consumers, which meet them in order all the same.
func (r *MPMC) giveUpDeadPuts(i int) {
	lo, hi, ok, torn := r.enqRange(i)
	if !ok || torn {
		return
	}
	freed := false
	for pos := lo; pos < hi; pos++ {
		if r.abandonDeadRun(pos) { // (nothing where pos is not claimed and unfilled)
			freed = true
		}
	}
	if freed {
		r.data.wake() // a consumer waiting at one of them
	}
}

// inherit takes participant slot i, whose holder w (read dead, or 0: a
// handle that closed with an adopted run left in its claim words) left
// messages claimed and not given back, together with that claim, for this
// handle's Gets to deliver first (adoptNext..adoptEnd), in order, exactly
// once. It is adoptDeadClaim's protocol with the CAS of the owner as the
// store of the claim: a live adopter stores its own claim, then looks for
// another live holder, then takes the dead one's claim by CAS; this handle
// makes the slot, claim and all, a live holder's, then looks for another
// live holder of those messages (with sequentially consistent atomics, of
// it and an adopter at least one sees the other's store, and backs off),
// and gives the slot back as it found it if there is one, or if the claim
// changed meanwhile (an adopter took it) or was given back. It reports
// whether it took the slot; attach keeps its dequeue claim words.
func (r *MPMC) inherit(i int, w uint64) bool {
	me := procinfo.Self().Word()
	if !r.parts.owner(i).CompareAndSwap(w, me) { // dead (or departed) holder's -> mine, its claim with it
		return false
	}
	lo, hi, ok, torn := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
	if ok && !torn && r.unreleased(lo, hi) && !r.liveHolder(lo, hi, i) {
		r.parts.gen(i).Add(1)
		r.adoptNext, r.adoptEnd = lo, hi
		return true
	}
	r.parts.owner(i).CompareAndSwap(me, w) // mine -> back to the holder it was: the claim is another's to resolve
	return false
}

// deqClaimLive reports whether a live participant can resolve participant
// i's dequeue claim: one that holds a claim covering its messages (their
// owner, which gives them back, or an adopter), or any that consumes or
// may (a slot reserved for a child), which adopts them once it finds the
// ring empty.
func (r *MPMC) deqClaimLive(i int) bool {
	lo, hi, ok, torn := r.claimRange(i, partOffDeqClaim, partOffDeqClaimEnd)
	if torn || (ok && r.liveHolder(lo, hi, -1)) {
		return true
	}
	live, _ := r.parts.liveness(func(j int) bool { return r.parts.word32(j, partOffRole).Load()&(roleConsumer|roleHandoff) != 0 })
	return live
}
