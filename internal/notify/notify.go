// Package notify holds the two blocking helpers that package queue and
// package pipe share: Event, a futex sequence word with a sleeper count so
// that a notifier whose peers are all awake makes no syscall, and Peers, a
// table of the processes attached to one side of an object, so that a waiter
// can tell "nobody has sent yet" from "everybody who could send is dead".
//
// Both live in shared memory: they are views of words in an object's body,
// and hold no state of their own.
package notify

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// Event is a condition that waiters wait for and notifiers announce. Seq is
// the futex word (bumped by Notify); Sleepers counts the waiters that may be
// parked on it. Both are shared words; a zero pair is a fresh Event.
//
// The protocol is Dekker's: a waiter raises Sleepers and then re-checks its
// condition; a notifier changes the state the condition reads and then loads
// Sleepers. Go's atomics are sequentially consistent, so one of the two sees
// the other: no wake-up is lost, and the notifier's fast path (Sleepers == 0)
// is a single load.
type Event struct {
	Seq      *atomic.Uint32 // futex word; written by Notify, awaited by Wait
	Sleepers *atomic.Uint32 // waiters past their spin; written by Wait only
}

// Notify wakes every waiter, if there is any. Call it after the change the
// waiters wait for has been published.
func (e Event) Notify() {
	if e.Sleepers.Load() == 0 { // observes: a waiter announced itself (see Wait)
		return
	}
	e.Seq.Add(1)
	atomics.Wake(e.Seq, -1)
}

// spinChecks is how many times Wait re-checks the condition before it
// announces itself as a sleeper: about as long as atomics.DefaultSpin.
const spinChecks = 64

// Wait blocks until ready reports true or an error, ctx is done, or o.Check
// (polled every o.Poll) returns an error. ready must not block; it is called
// again after every wake-up, spurious ones included.
func (e Event) Wait(ctx context.Context, o *atomics.WaitOptions, ready func() (bool, error)) error {
	spin := spinChecks
	if o != nil && o.Strategy != atomics.Park {
		spin = -1 // busy strategies: never park, never count as a sleeper
	}
	for i := 0; ; i++ {
		if ok, err := ready(); ok || err != nil {
			return err
		}
		if spin < 0 || i < spin {
			if spin < 0 {
				if i%1024 == 1023 {
					if err := ctx.Err(); err != nil {
						return err
					}
					if o.Check != nil {
						if err := o.Check(); err != nil {
							return err
						}
					}
				}
				if o.Strategy == atomics.Yield {
					runtime.Gosched()
				}
			}
			continue
		}
		seq := e.Seq.Load()
		e.Sleepers.Add(1) // publishes: a sleeper is about to park; notifiers must wake
		ok, err := ready()
		if !ok && err == nil {
			err = atomics.Await(ctx, e.Seq, seq, o)
		}
		e.Sleepers.Add(^uint32(0))
		if ok || err != nil {
			return err
		}
	}
}

// ErrPeerDead is returned by Peers.Check when every process recorded on the
// other side has died.
var ErrPeerDead = errors.New("peer process dead")

// Peers is a table of procinfo words (0 = free) naming the processes that
// have used one side of an object: the producers of a queue, say. It lives
// in shared memory, as a slice of 64-bit words.
type Peers []atomic.Uint64

// Join records the calling process in the table, once; a slot whose process
// died is reused. It reports false when every slot holds a live process (the
// caller then goes unrecorded: a waiter on the other side cannot tell its
// death, and will not wrongly report it either, as some peer is alive).
func (p Peers) Join() bool {
	me := procinfo.Self().Word()
	for i := range p {
		if p[i].Load() == me {
			return true
		}
	}
	for i := range p {
		w := p[i].Load()
		if w == 0 || !procinfo.AliveWord(w) {
			if p[i].CompareAndSwap(w, me) { // free or dead -> this process
				return true
			}
		}
	}
	return false
}

// State reports whether anybody ever joined and whether one of them is
// still alive.
func (p Peers) State() (joined, alive bool) {
	for i := range p {
		w := p[i].Load()
		if w == 0 {
			continue
		}
		joined = true
		if procinfo.AliveWord(w) {
			return true, true
		}
	}
	return joined, false
}

// Dead reports whether processes joined and all of them have died.
func (p Peers) Dead() bool {
	joined, alive := p.State()
	return joined && !alive
}
