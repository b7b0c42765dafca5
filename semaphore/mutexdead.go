package semaphore

// The Mutex's dead holders and starving waiters: who is dead, taking the
// lock over from a dead holder, the starvation bound's staleness checks,
// and the consistency a holder that died leaves to repair (see the state
// machine's comment in mutex.go).

import (
	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
)

// unpark takes a waiter that counted itself as a sleeper off the count.
func (m *Mutex) unpark(parked bool) {
	if parked {
		m.sleepers.Add(^uint32(0))
	}
}

// checkOwner is a parked waiter's periodic liveness check.
func (m *Mutex) checkOwner() error {
	if m.ownerDead(m.state.Load()) {
		return errOwnerGone
	}
	return nil
}

// ownerDead reports whether the process named by lock word v is dead, as
// the state machine's comment says: a holder of another PID namespace is
// alive; the start time and full namespace tag come from the owner word
// when that names the same holder; a holder of this namespace between its
// CAS and its owner store (or in Unlock) is checked by PID alone. A holder
// in another process that this handle found alive less than aliveFor ago
// counts as alive without a look.
func (m *Mutex) ownerDead(v uint32) bool {
	h := v & mHolderMask
	if h == 0 || h == mNotRecoverable {
		return false
	}
	me, _ := self()
	if h>>mNSShift != me>>mNSShift {
		return false // another namespace: its PID means nothing here
	}
	pid := h & mPidMask
	who := procinfo.Ident{Pid: int32(pid)}.Word() // this namespace, start unknown: PID alone
	if w := m.owner.Load(); holderOf(w) == h {
		who = w
	}
	other := pid != me&mPidMask // this process answers without /proc
	if other && m.seen.fresh(who) {
		return false
	}
	if !procinfo.AliveWord(who) {
		return true
	}
	if other {
		m.seen.mark(who)
	}
	return false
}

// takeOver tries to take the lock from the dead holder in v. It reports
// whether the caller now holds the lock, with ErrOwnerDead.
func (m *Mutex) takeOver(v, holder uint32, word uint64) (bool, error) {
	if v&mHolderMask == 0 || v&mHolderMask == mNotRecoverable || !m.ownerDead(v) {
		return false, nil
	}
	if w := m.owner.Load(); holderOf(w) == v&mHolderMask {
		m.owner.CompareAndSwap(w, 0) // forget the dead holder before replacing it
	}
	if !m.state.CompareAndSwap(v, holder|mOwnerDied|v&mWaiters) { // locked by the dead -> inconsistent
		return false, nil
	}
	atomics.StoreRelease64(m.owner, word)
	return true, ErrOwnerDead
}

// wantStale is TryLock's form of yieldTo's patience: it reports whether
// this handle has found the lock free and owed to the waiter of want word
// w for mutexWantPatience, with no sight of the lock held in between, and
// then clears the word. Without it a want word that names a process that
// cannot come (stopped, of another namespace, garbage a peer wrote) would
// keep a free lock from TryLock pollers for ever. Two starving turns of
// one process that this handle sees free, and never held, may count as
// one: the word is then cleared early, and the waiter asks again.
func (m *Mutex) wantStale(w uint64) bool {
	now := spin.Now()
	if m.owedWant.Load() != w {
		m.owedSince.Store(now)
		m.owedWant.Store(w)
		return false
	}
	if now-m.owedSince.Load() < int64(mutexWantPatience) {
		return false
	}
	m.owedWant.Store(0)
	m.want.CompareAndSwap(w, 0) // stale: see above
	return true
}

// wantGone reports whether want word w names a process found dead (with
// the holder's cache of live processes: at most one look in /proc per
// aliveFor), and then clears it.
func (m *Mutex) wantGone(w uint64) bool {
	if m.seen.fresh(w) {
		return false
	}
	if procinfo.AliveWord(w) {
		m.seen.mark(w)
		return false
	}
	m.want.CompareAndSwap(w, 0) // a dead waiter's: nobody is owed the lock
	return true
}

// releaseInconsistent unlocks m, taken with ErrOwnerDead and not repaired,
// so that the next locker gets ErrOwnerDead in turn.
func (m *Mutex) releaseInconsistent() {
	state, owner, want := m.state, m.owner, m.want // see Unlock: no handle reads after the release
	raceRelease(state)
	atomics.StoreRelease64(owner, 0)
	for {
		v := state.Load()
		n := releaseWakes(v, want)
		if state.CompareAndSwap(v, mOwnerDied) { // inconsistent -> unlocked, inconsistent
			if n != 0 {
				wakeReleased(state, n)
			}
			return
		}
	}
}

// MarkConsistent declares that the state guarded by m, left half-done by a
// holder that died, has been repaired. Call it after Lock (or TryLock)
// returned ErrOwnerDead and before Unlock. It panics if m is not held
// after ErrOwnerDead by the calling process.
func (m *Mutex) MarkConsistent() {
	holder, _ := self()
	for {
		v := m.state.Load()
		if v&mHolderMask != holder || v&mOwnerDied == 0 {
			panic("semaphore: MarkConsistent of a Mutex not taken over with ErrOwnerDead by this process")
		}
		if m.state.CompareAndSwap(v, v&^mOwnerDied) { // inconsistent -> locked*
			return
		}
	}
}

// Recoverable reports whether m can still be locked: false once it is not
// recoverable (every Lock fails with ErrNotRecoverable).
func (m *Mutex) Recoverable() bool { return m.state.Load()&mHolderMask != mNotRecoverable }

// Holder names the process that holds a Mutex, as Owner reports it.
type Holder struct {
	// Pid is the holder's process ID, in the PID namespace NS; 0 for none.
	Pid int
	// Start is the holder's start time in clock ticks since boot (field 22
	// of /proc/PID/stat), which tells it from a later process given the
	// same PID; 0 while unknown.
	Start uint64
	// NS is the inode number of the holder's PID namespace
	// (/proc/PID/ns/pid); 0 while unknown. A Pid is meaningful only in its
	// namespace.
	NS uint64
}

// Owner returns the process holding m, or the zero Holder if m is unlocked
// (or not recoverable). The start time and namespace are known only once
// the holder has recorded them, a few instructions after taking the lock;
// until then Start is zero, and NS is the caller's namespace if the lock
// word's short namespace tag is the caller's, or 0 (unknown) if not.
func (m *Mutex) Owner() Holder {
	h := m.state.Load() & mHolderMask
	if h == 0 || h == mNotRecoverable {
		return Holder{}
	}
	if w := m.owner.Load(); holderOf(w) == h {
		id := procinfo.FromWord(w)
		return Holder{Pid: int(id.Pid), Start: id.Start, NS: id.NS}
	}
	o := Holder{Pid: int(h & mPidMask)}
	if me, _ := self(); h>>mNSShift == me>>mNSShift {
		o.NS = procinfo.Self().NS
	}
	return o
}
