package ringbuf

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
)

// An MPMC ring's side (its producers, or its consumers) usually has one
// claimer: a queue between one producer process and one consumer. Every
// claim of Vyukov's queue is a CAS on the side's position, and the CAS
// waits for the stores before it to drain: in a stream, the last message's
// slot, on lines the other side's core holds (see queue's doc for the
// figures). So the first handle to claim on a side, in a process that
// membarrier(2) did not refuse, becomes the side's sole claimer, and moves
// the position with a plain store after its claim word, which every claim
// stores anyway (see the participant slot in layout.go):
//
//	sole claimer: read pos; claim = pos+1; look at sole; position = pos+1
//	              (sole announced: claim = 0, and CAS from then on)
//	another:      sole = owner|1; membarrier.Fence(); wait until the
//	              owner's claim is not position+1 (or the owner gone);
//	              sole = soleShared
//
// Dekker's handshake, made asymmetric, as the handle lock's bias and
// Value's plain Update: either the sole claimer's look after its claim
// store sees the announcement (it then claims by CAS, from then on, like
// everyone), or the joiner's look after the fence sees that claim, which
// says the owner may be between its look and its store, and waits for the
// position (or the claim) to move. The joiner reads the claim before the
// position: a claim it finds not yet stored was stored after the fence,
// and the look that follows it sees the announcement. Once a side is
// shared it stays so. A joiner never CASes the position before the side
// is shared: the CASes of Vyukov's queue exclude each other, not a plain
// store.
//
// The sole claimer is a handle (its token names its participant slot and
// that slot's gen), not a process: another handle of the same process
// joins like any other. One that closes gives the side up (sole back to
// 0) for the next claimer; one that dies leaves its token, and the next
// claimer finds it gone (its participant slot taken again, freed, or its
// process dead), wherever it died: a dead process makes no more stores.
// A claimer that must move the position before any owner has come and
// cannot own the side (a rescue's skip, or a process that membarrier
// refused) makes the side shared at once.
//
// No fence reaches a process's threads before membarrier(2) has
// registered it, and the registration, which opening the ring starts,
// waits for an RCU grace period (10-19 ms in a fresh process here): the
// first claim on a side that has no sole claimer makes its handle the
// owner at once, and the owner claims by CAS until its process is
// registered, as Value's plain Update does. A plain claim's look at sole
// comes after its look at Registered, and so after the registration
// returned: either the look comes after a joiner's announcement and sees
// it, or the joiner's fence, after the announcement, came after the
// registration and reached the owner. Waiting for the registration cost
// the first message of every fresh process first on its side those
// milliseconds (TestSoleFirstClaimDoesNotWaitForRegistration). A process
// that membarrier refused never owns a side.
type soleSide struct {
	mode     *atomic.Uint64 // enqSole or deqSole: 0, the owner's token, token|1, or soleShared
	pos      *atomic.Uint64 // the side's position: enqueue or dequeue
	claimOff int            // the side's claim word in a participant slot: partOffEnqClaim or partOffDeqClaim
	tok      uint64         // this handle's token once it has a participant slot, else 0
	own      bool           // this handle is the side's sole claimer (guarded by the side's handle lock)
	fenced   uint64         // the announcement (token|1) this handle fenced after, so that a join given up and tried again fences once (guarded by the side's lock)
}

// soleWindowHook, when set (tests), runs in every plain claim between the
// look at sole and the store that moves the position.
var soleWindowHook func()

// soleShared: every claimer of the side CASes its position. Odd, like an
// announcement, and told apart from one first.
const soleShared = ^uint64(0)

// soleToken names participant slot part in its generation gen: never 0,
// never odd, never soleShared.
func soleToken(part int, gen uint32) uint64 { return uint64(gen)<<9 | uint64(part+1)<<1 }

// mine reports, after the caller stored its claim, whether this handle is
// still the side's sole claimer; if not, it CASes from then on.
func (s *soleSide) mine() bool {
	if s.mode.Load() == s.tok { // observes: a joiner's announcement (it fences after its store)
		return true
	}
	s.own = false
	return false
}

// release gives the side up, for a handle that closes (its side's lock
// held, so no claim of its own is under way): the next claimer may own
// it. An announcement stays; its joiner finds the claim done.
func (s *soleSide) release() {
	if s.own {
		s.own = false
		s.mode.CompareAndSwap(s.tok, 0) // mine -> nobody's
	}
}

// mayCAS readies side s for a CAS of this handle's, as join does, with no
// call where none is needed: the handle owns the side, or the side is
// shared. A claim reports its error through notNow.
func (r *MPMC) mayCAS(ctx context.Context, s *soleSide) error {
	if s.own || s.mode.Load() == soleShared {
		return nil
	}
	return r.join(ctx, s, true)
}

// join readies side s for a CAS of this handle's (its side's lock held),
// which it may make only once no sole claimer can store plainly: it makes
// the handle the sole claimer where the side has none yet (mayOwn, a token,
// a process membarrier did not refuse), or the side shared, announcing itself to an
// owner and waiting for its claim under way first. It returns nil once
// the handle may CAS, or what ended that wait (see awaitOwner): the
// caller then claims nothing.
func (r *MPMC) join(ctx context.Context, s *soleSide, mayOwn bool) error {
	for {
		m := s.mode.Load()
		switch {
		case m == soleShared:
			return nil
		case m == 0:
			if mayOwn && s.tok != 0 && !membarrier.Refused() {
				if s.mode.CompareAndSwap(0, s.tok) { // nobody's -> mine
					s.own = true
					return nil
				}
				continue
			}
			if s.mode.CompareAndSwap(0, soleShared) { // nobody's -> everyone CASes
				return nil
			}
		case m == s.tok:
			s.own = true
			return nil
		case m == s.tok|1:
			// Announced to this handle, which found it so in a plain
			// claim (mine) and makes no plain claim from then on: no
			// claim of its own to wait for.
			s.own = false
			s.mode.CompareAndSwap(m, soleShared) // announced -> everyone CASes
		case m&1 == 0:
			s.mode.CompareAndSwap(m, m|1) // another's -> announced (then the fence)
		default:
			if err := r.awaitOwner(ctx, s, m^1); err != nil {
				return err // announced still: the owner CASes from its next claim on
			}
			s.mode.CompareAndSwap(m, soleShared) // announced -> everyone CASes
		}
	}
}

// noWait is the context of a call that does not wait (a Try call, a
// rescue): done from the start, its error errSoleClaiming, which is
// join's answer while the side's sole claimer stays within a claim: the
// call claims nothing now, as on a full (or empty) ring.
var noWait context.Context = doneContext{}

var errSoleClaiming = errors.New("ringbuf: the side's sole claimer is within a claim")

type doneContext struct{}

func (doneContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (doneContext) Done() <-chan struct{}       { return closedDone }
func (doneContext) Err() error                  { return errSoleClaiming }
func (doneContext) Value(any) any               { return nil }

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// notNow is a claim's answer to join's error: nothing claimed now, and no
// error, where the caller does not wait (noWait).
func notNow(err error) error {
	if err == errSoleClaiming {
		return nil
	}
	return err
}

// awaitOwner waits, for a joiner that announced itself to owner, until
// owner can no longer store plainly: after the fence, its claim word seen
// other than the side's position + 1 (no plain claim under way), or owner
// gone. Where the fence fails (never seen: the owner's process is
// registered, so the command exists), it lets a millisecond pass first,
// in which any store of the owner's reaches memory. A fence after the
// announcement serves every later look, so a joiner fences once.
//
// A claim takes a few stores, but its owner's process may be stopped
// (SIGSTOP) inside it, or the word corrupt while the owner idles: for as
// long as that lasts, the wait would. So it ends, the join undone but for
// the announcement, once the owner has had a few yields to finish, with
// the error of the caller's end: ErrClosed once the handle closes (Close
// waits for the lock the joiner holds), ctx's once it is done (at once
// for a caller that does not wait: noWait)
// (TestSoleJoinHonoursItsCallersEnd).
func (r *MPMC) awaitOwner(ctx context.Context, s *soleSide, owner uint64) error {
	if s.fenced != owner|1 {
		membarrier.FenceOrWait()
		s.fenced = owner | 1
	}
	i := int(owner>>1&0xff) - 1
	for k := 0; ; k++ {
		if r.soleGone(owner) {
			return nil
		}
		c := r.parts.word(i, s.claimOff).Load() // observes: the owner's claim, after the fence (first: see the type's doc)
		if c != s.pos.Load()+1 {
			return nil
		}
		switch {
		case k < 64:
			spin.Relax() // a claim takes a few stores
		case k < 128:
			runtime.Gosched() // its owner was preempted in one
		case r.closed.Load():
			return ErrClosed
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			time.Sleep(min(time.Duration(k-127)*10*time.Microsecond, time.Millisecond))
		}
	}
}

// soleGone reports whether the handle of token tok is gone: its
// participant slot freed, taken again since, or held by a dead process. A
// token that names no slot (corrupt memory) is gone too.
func (r *MPMC) soleGone(tok uint64) bool {
	i := int(tok>>1&0xff) - 1
	if i < 0 || i >= r.parts.n || uint64(r.parts.gen(i).Load()) != tok>>9 {
		return true
	}
	w := r.parts.owner(i).Load()
	return w == 0 || !procinfo.AliveWord(w)
}
