package semaphore

// The Mutex's waiting half: the spin, the park on the state word, the
// starvation bound's turn (see the state machine's comment in mutex.go).

import (
	"context"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
)

// lockSlow is LockContext's path when the fast CAS failed.
func (m *Mutex) lockSlow(ctx context.Context, holder uint32, word uint64) error {
	if err := ctx.Err(); err != nil {
		return err // done already: not after a spin of some microseconds
	}
	since := spin.Now()
	wanting := false // this goroutine set the want word
	defer func() {
		if wanting {
			m.want.CompareAndSwap(word, 0) // starving no more: it holds the lock, or gave up
		}
	}()
	// Spin, even when others sleep: a spinner that takes the lock with a
	// plain CAS(0, holder) leaves them to the sleeper the last Unlock woke,
	// which sets WAITERS again if it must park (Drepper's fast path does the
	// same).
	//
	// The spin is package spin's adaptive one: a look is one load of the
	// state word (and of the want word beside it, on the same line), with
	// a pause before it that doubles at every look that finds the lock
	// held, from mutexLookRelax to mutexLookMax Relax pauses (exponential
	// back-off, as Anderson's test-and-test-and-set lock backs off). Every
	// look takes the line from a holder that locks in a loop, which then
	// misses on its next CAS; and a look that finds the lock free in the
	// moment between such a holder's Unlock and its next Lock takes it,
	// a hand-over that costs a line transfer each way (about a
	// microsecond when the machine is slow). So the longer the lock stays
	// busy, the rarer the looks, and a holder that re-locks at once keeps
	// the lock and its line for many of its turns; only a CAS that a look
	// found worth trying is made. The rounds grow while this handle's
	// waits end just after its spin would have (a holder that hands the
	// lock back within microseconds), so that it parks, and the holder
	// pays a FUTEX_WAKE, only when the lock is held for long. Past the
	// base, the rounds yield the CPU: on a loaded machine the holder may
	// be waiting for it.
	pause := max(mutexLookRelax, int(m.pause.Load())/2)
	look := func() bool {
		for i := 0; i < pause; i++ {
			spin.Relax()
		}
		if m.state.Load() == 0 && m.want.Load() == 0 {
			m.pause.Store(int32(pause))
			return true
		}
		pause = min(2*pause, mutexLookMax)
		return false
	}
	var spell spin.Spell
	for tries := 0; ; tries++ {
		var ok bool
		spell, ok = m.spin.Spin(mutexRounds, spin.Yielding, look)
		if !ok || tries == mutexTries {
			break
		}
		if m.state.CompareAndSwap(0, holder) { // unlocked -> locked
			atomics.StoreRelease64(m.owner, word)
			return nil
		}
		// Lost to another locker, or the word is not plain unlocked
		// (unlocked, inconsistent): the loop below handles it.
	}
	opts := atomics.WaitOptions{Poll: mutexPoll, Check: m.checkOwner, Spin: 1}
	// first is the wait of a waiter that has counted itself a sleeper and
	// not yet seen the word change since: a plain release may not wake it
	// (see plainRelease), so its sleeps start short. Only a word loaded
	// after the count counts: the change of one loaded before it (WAITERS
	// left set by a waiter that has since taken the lock) says nothing of
	// the Unlock that looked at sleepers before the count, which may still
	// clear the WAITERS this waiter sets next.
	first := opts
	fresh := false // counted, no word loaded since the count seen to change
	dead, parked, learn := false, false, true
	for {
		v := m.state.Load()
		if parkLoopHook != nil {
			parkLoopHook(v)
		}
		switch {
		case v&mHolderMask == mNotRecoverable:
			m.unpark(parked)
			return ErrNotRecoverable
		case v&mHolderMask == 0:
			if w := m.want.Load(); w != 0 && !wanting {
				// Free, but a waiter that starves is owed it.
				if err := m.yieldTo(ctx, w, v); err != nil {
					m.unpark(parked)
					return err
				}
				continue
			}
			// A waiter that slept cannot know whether others still sleep
			// (Unlock cleared WAITERS when it woke it): it sets WAITERS
			// again unless the sleeper count says nobody else parks. One
			// that parks after this load sets WAITERS itself before it
			// sleeps, so no wake-up is lost.
			m.unpark(parked)
			parked = false
			w := holder | v&mOwnerDied
			if m.sleepers.Load() != 0 {
				w |= mWaiters
			}
			if m.state.CompareAndSwap(v, w) { // unlocked* -> locked (sleepers if any; inconsistent if it was)
				atomics.StoreRelease64(m.owner, word)
				if v&mOwnerDied != 0 {
					return ErrOwnerDead
				}
				return nil
			}
			continue
		}
		if dead || v&mOwnerDied != 0 && m.ownerDead(v) {
			dead = false
			if ok, err := m.takeOver(v, holder, word); ok {
				m.unpark(parked)
				return err
			}
			continue
		}
		if wanting && m.want.Load() != word {
			wanting = false // found stale and cleared by a locker it kept waiting (see yieldTo)
		}
		if !wanting && spin.Now()-since >= int64(mutexStarve) {
			// Waited long enough: from now on the others leave the lock
			// to this waiter once it is free (one starving waiter at a
			// time; the others wait their turn).
			wanting = m.want.CompareAndSwap(0, word)
		}
		if !parked {
			m.sleepers.Add(1) // counted before WAITERS is set: see above
			// Each count starts the short sleeps afresh (one that lost a
			// free lock to a barger counts again, its sleeps doubled), on
			// a word loaded after it (see first).
			parked, fresh, first.Poll = true, true, mutexFirstSleep
			continue
		}
		if v&mWaiters == 0 {
			if !m.state.CompareAndSwap(v, v|mWaiters) { // locked -> locked, sleepers
				continue
			}
			v |= mWaiters
		}
		o := &opts
		if fresh {
			o = &first
		}
		if parkSleepHook != nil {
			parkSleepHook(o.Poll)
		}
		t0 := spin.Now()
		err := atomics.Await(ctx, m.state, v, o)
		if fresh {
			if m.state.Load() == v { // slept its slice through: the next one is twice as long
				first.Poll = min(2*first.Poll, mutexPoll)
			} else {
				fresh = false
			}
		}
		if learn {
			// What the spin learns comes from the first park, the one
			// that followed it.
			m.spin.Parked(spell, t0, err == nil && m.state.Load() != v)
			learn = false
		}
		switch err {
		case nil:
		case errOwnerGone:
			dead = true
		default:
			m.unpark(parked)
			return err
		}
	}
}

// yieldTo waits, without taking it, while the lock stays free (state word
// v) for the starving waiter of process w (the want word) to take. It
// first wakes every sleeper: the Unlock that freed the lock woke one, and
// perhaps not the starving one, which must not sleep on while the others
// leave the lock to it (a wake-up for each starving turn, not for each
// Unlock). A want word that names a dead process, or that nobody acts on
// within mutexWantPatience (a process of another namespace, whose death this one
// cannot see; a waiter stopped or descheduled for that long), is cleared:
// the bound is on unfairness, never a wait on a process that cannot come.
// It returns ctx's error if ctx ends first.
func (m *Mutex) yieldTo(ctx context.Context, w uint64, v uint32) error {
	if m.wantGone(w) {
		return nil
	}
	wakeReleased(m.state, -1)
	t0 := spin.Now()
	for m.state.Load() == v && m.want.Load() == w {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := int64(mutexWantPatience) - (spin.Now() - t0)
		if left <= 0 {
			m.want.CompareAndSwap(w, 0) // stale: see above
			return nil
		}
		// Park rather than spin while the starving waiter comes: counted
		// as a sleeper, so that it takes the lock with WAITERS set and its
		// Unlock wakes one of us; the slice bounds the sleep when that wake
		// goes to another sleeper, and lets ctx be seen.
		m.sleepers.Add(1)
		if m.state.Load() == v && m.want.Load() == w {
			_ = atomics.Wait(m.state, v, time.Duration(min(left, int64(mutexYieldSlice))))
		}
		m.sleepers.Add(^uint32(0))
	}
	return nil
}
