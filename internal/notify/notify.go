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
	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/spin"
)

// Event is a condition that waiters wait for and notifiers announce, an
// eventcount in one futex word. Seq's bit 0 says "a waiter may be asleep";
// the rest counts wake-ups. Sleepers counts the waiters past their spin, for
// tests and statistics only.
//
// A waiter sets the bit (CAS), then re-checks its condition, then sleeps
// on the word's value. A notifier changes the state the condition reads,
// then loads Seq: with the bit clear it is done (no syscall: the fast
// path); with the bit set it clears it, bumping the count, and wakes
// everybody. Go's atomics are sequentially consistent, so either the
// notifier sees the bit or the waiter's re-check sees the new state
// (Dekker) -- when the change was made with one. A change published with a
// release store (the rings' atomics.StoreRelease*, a plain MOV on amd64)
// may still sit in the notifier's store buffer when its load of Seq is
// satisfied: a waiter that sets the bit and re-checks in that moment would
// sleep until its poll period or the next notification. So a waiter's
// first sleep in the kernel lasts at most spin.FirstPark; it then
// re-checks once and sleeps for its poll period (TestEventMissedNotify
// changes the state without a Notify). Clearing the bit makes one syscall per
// sleep, not one per notification: a consumer that drains a full queue
// wakes its parked producer once, not once per message.
type Event struct {
	Seq      *atomic.Uint32 // futex word: bit 0 waiter-may-sleep, bits 1.. wake count
	Sleepers *atomic.Uint32 // waiters past their spin; statistics only
}

// Notify wakes every waiter, if one may be asleep. Call it after the change
// the waiters wait for has been published.
func (e Event) Notify() {
	for {
		s := e.Seq.Load() // observes: a waiter set the sleep bit (see Wait)
		if s&1 == 0 {
			return
		}
		if e.Seq.CompareAndSwap(s, s+1) { // asleep (odd) -> woken (even, count bumped)
			atomics.Wake(e.Seq, -1)
			return
		}
	}
}

// Recheck is what a WaitOptions.Check returns to end a sleep early without
// an error: the wait runs ready again (the check changed shared state that
// ready reads, say by making a dead peer's message deliverable).
//
//lint:ignore ST1012 a signal to wait again, not an error: it never reaches a caller
var Recheck = errors.New("notify: recheck")

// Wait blocks until ready reports true or an error, ctx is done, or o.Check
// (polled every o.Poll) returns an error. ready must not block; it is called
// again after every wake-up, spurious ones included. Before it parks, Wait
// spins the base of package spin (about 5 µs), calling ready between
// pauses; WaitFor is the form for hot paths.
func (e Event) Wait(ctx context.Context, o *atomics.WaitOptions, ready func() (bool, error)) error {
	return e.WaitFor(ctx, o, nil, nil, ready)
}

// WaitFor is Wait for the hot paths (Put, Get, Send, Recv): while it
// spins, it looks at probe, which must cost a load or two (has the ring's
// index moved? did the handle close?), and runs ready only once probe
// reports true, so a spinning waiter neither takes the other side's lines
// with a try per look nor notifies anybody. probe may report true when
// ready then finds nothing (a race lost to another consumer): the spin
// goes on. A nil probe looks with ready itself. The spin adapts through a
// (see package spin: it grows while the waiter is woken after gaps a
// longer spin would have covered, and shrinks back otherwise); a nil a
// spins the base. a belongs to the caller's handle, one per side it
// waits on.
func (e Event) WaitFor(ctx context.Context, o *atomics.WaitOptions, a *spin.Adaptive, probe func() bool, ready func() (bool, error)) error {
	err := e.wait(ctx, o, a, probe, ready)
	if err != nil {
		// A peer's last act before it died (or the deadline) may have met
		// the condition: a TaskDone then exit, a Put then exit. The
		// condition wins over the error that ended the wait.
		if ok, rerr := ready(); ok || rerr != nil {
			return rerr
		}
	}
	return err
}

func (e Event) wait(ctx context.Context, o *atomics.WaitOptions, a *spin.Adaptive, probe func() bool, ready func() (bool, error)) error {
	if ok, err := ready(); ok || err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // done already: not after a spin of microseconds
	}
	var (
		got  bool
		rerr error
	)
	look := func() bool {
		if probe != nil && !probe() {
			return false
		}
		got, rerr = ready()
		return got || rerr != nil
	}
	if o != nil && o.Strategy != atomics.Park {
		return busyWait(ctx, o, look, &rerr)
	}
	base := atomics.DefaultSpin
	if o != nil && o.Spin != 0 {
		base = max(o.Spin, 0)
	}
	base = (base + spin.RelaxChecks - 1) / spin.RelaxChecks
	// due is when o.Check must run next, however often the waiter is
	// woken (see spin.PollDue).
	var due spin.PollDue
	polls := o != nil && o.Poll > 0 && o.Check != nil
	for {
		spell, ok := a.Spin(base, spin.Yielding, look)
		if ok {
			return rerr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		s := e.Seq.Load()
		if s&1 == 0 && !e.Seq.CompareAndSwap(s, s|1) { // awake -> a waiter may sleep
			continue
		}
		s |= 1 // publishes: the sleep bit; notifiers must now wake
		e.Sleepers.Add(1)
		ok, err := ready()
		if !ok && err == nil {
			t0 := spin.Now()
			if polls {
				due.Park(t0, o.Poll)
			}
			slept := int64(0) // the sleep with o: one of its whole poll period ran Check
			err = atomics.Await(ctx, e.Seq, s, &firstPark)
			if err == errFirstPark {
				if ok, err = ready(); !ok && err == nil {
					t1 := spin.Now()
					err = atomics.Await(ctx, e.Seq, s, o)
					slept = spin.Now() - t1
				}
			}
			a.Parked(spell, t0, err == nil && e.Seq.Load() != s)
			if polls && !ok && err == nil {
				switch now := spin.Now(); {
				case slept >= int64(o.Poll):
					due.Polled(now, o.Poll) // Await checked
				case due.Owed(now):
					due.Polled(now, o.Poll)
					err = o.Check()
				}
			}
			if err == Recheck {
				err = nil
			}
		}
		e.Sleepers.Add(^uint32(0))
		if ok || err != nil {
			return err
		}
	}
}

// errFirstPark ends a waiter's first sleep (see Event); never returned.
var errFirstPark = errors.New("notify: first park")

// firstPark is a waiter's first sleep: FirstPark, then errFirstPark (it
// spun before, and it polls nobody).
var firstPark = atomics.WaitOptions{Spin: -1, Poll: spin.FirstPark, Check: func() error { return errFirstPark }}

// busyWait is the wait of the Spin and Yield strategies: look until it
// holds, never parking; the context and o.Check every 1024 looks.
func busyWait(ctx context.Context, o *atomics.WaitOptions, look func() bool, rerr *error) error {
	for i := 1; ; i++ {
		if look() {
			return *rerr
		}
		if o.Strategy == atomics.Yield {
			runtime.Gosched()
		}
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if o.Check != nil {
				if err := o.Check(); err != nil && err != Recheck {
					return err
				}
			}
		}
	}
}

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
	return p.claim(me) >= 0
}

// claim writes w into a free slot, or one whose process is dead, and
// returns its index; -1 when every slot holds a live process.
func (p Peers) claim(w uint64) int {
	for i := range p {
		old := p[i].Load()
		if (old == 0 || !procinfo.AliveWord(old)) && p[i].CompareAndSwap(old, w) { // free or dead -> w
			return i
		}
	}
	return -1
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

// Has reports whether the process with procinfo word w is in the table.
func (p Peers) Has(w uint64) bool {
	for i := range p {
		if p[i].Load() == w {
			return true
		}
	}
	return false
}

// Reserve holds a slot for a child process about to be started with the
// object (see package handoff): a free or dead slot gets a stand-in word,
// alive while this process is, that the returned reservation replaces by
// the child's word once the child runs. It reports false when every slot
// holds a live process.
func (p Peers) Reserve() (handoff.Slot, bool) {
	standIn := procinfo.HandoffWord(procinfo.Self().Word())
	if i := p.claim(standIn); i >= 0 {
		return handoff.Slot{Word: &p[i], StandIn: standIn}, true
	}
	return handoff.Slot{}, false
}

// Gone reports whether the side whose members are in side has given up for
// good. Its candidates are the processes that joined it and the processes
// holding the object (attached, children it was handed to included) that
// have not joined the other side: any of them could still act on the side.
// The side is gone when it has a candidate and every candidate is dead. A
// process that holds the object and has not acted yet keeps the waiter
// waiting, as Python's queue would; a child handed the object that died
// before acting counts as a dead candidate. Nobody at all (no candidate)
// is not gone: a process may yet open the object by name.
func Gone(side, other, attached Peers) bool {
	candidate := false
	for i := range side {
		w := side[i].Load()
		if w == 0 {
			continue
		}
		if procinfo.AliveWord(w) {
			return false
		}
		candidate = true
	}
	for i := range attached {
		w := attached[i].Load()
		if w == 0 || other.Has(w) {
			continue
		}
		if procinfo.AliveWord(w) {
			return false
		}
		candidate = true
	}
	return candidate
}
