package ringbuf

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/spin"
)

// DefaultPoll is how often a blocked call re-examines its peers (is the
// producer of the record at the head dead? are all consumers gone?) unless
// WithPoll says otherwise. It bounds how long a dead peer goes unnoticed.
const DefaultPoll = 50 * time.Millisecond

// Option configures a ring handle (NewSPSC, OpenSPSC, …, SetOptions).
type Option struct{ apply func(*options) }

type options struct {
	strategy atomics.Strategy
	spin     int
	poll     time.Duration
	slots    int
	batch    uint64 // SPSC: bytes committed before the tail is published
	limit    int    // MPMC: messages held at most (0: capacity)
}

func defaultOptions() options {
	return options{strategy: atomics.Park, spin: atomics.DefaultSpin, poll: DefaultPoll}
}

// WithStrategy selects how this handle waits when it must block: atomics.Park
// (the default: spin briefly, then sleep on a futex), atomics.Spin (busy-spin,
// never a syscall: one core per waiter) or atomics.Yield (spin with
// runtime.Gosched). The other side of the ring may use another strategy.
func WithStrategy(s atomics.Strategy) Option { return Option{func(o *options) { o.strategy = s }} }

// WithSpin sets how many times a blocked call re-checks the ring before it
// yields or parks (default atomics.DefaultSpin; 0 or less: none). Under
// atomics.Park that is the base: a handle woken after gaps that a spin 16
// times as long would have covered (a stream whose gaps are short) doubles
// its spin, up to that, and halves it back to the base after longer gaps.
func WithSpin(n int) Option {
	return Option{func(o *options) { o.spin = max(n, 0) }}
}

// WithPoll sets how often a blocked call checks its peers for death
// (default DefaultPoll).
func WithPoll(d time.Duration) Option {
	return Option{func(o *options) {
		if d > 0 {
			o.poll = d
		}
	}}
}

// WithWriteBatch makes an SPSC producer publish its committed records once
// at least n bytes of them are pending, or at Flush, CloseWrite, or when it
// must wait for room, instead of at every Commit: the bufio.Writer of rings,
// for streams of small records where one store of the tail per record
// costs more than the record. The consumer sees nothing before the
// publication, so a producer that stops must Flush. n <= 0 restores
// publication at every Commit. MPSC and MPMC rings ignore it.
func WithWriteBatch(n int) Option {
	return Option{func(o *options) { o.batch = uint64(max(n, 0)) }}
}

// WithProducers sets the number of producer slots of a new MPSC ring, or of
// participant slots (producers and consumers together, one per handle) of a
// new MPMC ring: 1..MaxProducers, default DefaultProducers. Each handle that
// produces takes one slot for as long as it lives.
func WithProducers(n int) Option { return Option{func(o *options) { o.slots = n }} }

// WithLimit bounds the messages a new MPMC ring holds at once to n
// (1..capacity; default: its capacity), for a bound that is not a power of
// two. The bound is kept in the ring, so every handle obeys it, and it is
// derived from the ring's positions: a process killed mid-Put takes no unit
// of it along.
func WithLimit(n int) Option { return Option{func(o *options) { o.limit = n }} }

// apply applies opts and passes the poll period on to the handle's sides.
func (o *options) apply(opts []Option, sides ...*waitSide) {
	for _, f := range opts {
		f.apply(o)
	}
	for _, w := range sides {
		w.opt.Poll = o.poll
		w.adapt.Reset() // what was learnt was learnt for the old settings
	}
}

// inUse returns ahead-behind when it is a plausible fill level, else 0.
func inUse(ahead, behind, capacity uint64) int {
	if ahead < behind || ahead-behind > capacity {
		return 0
	}
	return int(ahead - behind)
}

// waitSide is one direction of blocking: consumers wait for data on the
// data futex, producers for space on the space futex. The protocol keeps the
// fast path free of syscalls:
//
//	waiter: seq := seq.Load(); waiters++; re-check; Await(seq); waiters--
//	waker:  publish (store); if waiters.Load() != 0 { seq++; Wake }
//
// With sequentially consistent atomics either the waker sees the waiter's
// increment or the waiter's re-check sees the publication (Dekker). But the
// rings publish with release stores (atomics.StoreRelease*, a plain MOV on
// amd64), and x86 may satisfy the waker's later load of waiters before
// that store is visible: a waiter that registers and re-checks in that
// moment would sleep until its poll period (WithPoll, 50 ms by default) or
// the next publication. So a waiter's first sleep in the kernel lasts at
// most spin.FirstPark, after which it re-checks once and sleeps again
// for the poll period: a wake lost that way costs that much latency, not
// a poll period. (Not seen in millions of ping-pong rounds; a fence after
// every publication would close the window at a locked instruction per
// message. TestWaitSideMissedWake publishes without a wake.)
// A waiter also raises parked to the seq value it will sleep on; a waker
// bumps seq (by CAS) only while parked equals it, so that a burst of
// publications to a sleeping consumer makes one wake syscall, not one each:
// a waiter that sleeps in the kernel sleeps on the current seq, and parked,
// the latest value any waiter took, then equals it.
type waitSide struct {
	seq     *atomic.Uint32 // bumped by wakers that saw a waiter
	waiters *atomic.Uint32 // waiters registered (any process)
	parked  *atomic.Uint32 // highest seq a waiter is about to sleep on
	opt     atomics.WaitOptions
	o       *options
	adapt   spin.Adaptive // Park: spin rounds learnt from past waits
	// due is when the next errPoll is owed, however often the waiter is
	// woken (see spin.PollDue): a waiter woken in vain by every
	// publication behind a dead producer's slot at the head never rescued
	// the slot (TestRescueDespiteWakesInVain). The handle's lock of its
	// side serialises the waits that use it, as for adapt.
	due spin.PollDue
	// holder is the handle lock its waiters hold while they wait (nil:
	// none), told of each wait so that a Try call behind it gives up (see
	// handleLock).
	holder *handleLock
}

func pollCheck() error { return errPoll }

// firstPark is a wait's first sleep: spin.FirstPark, then errFirstPark
// (it spun before, and it polls nobody).
var firstPark = atomics.WaitOptions{Spin: -1, Poll: spin.FirstPark, Check: func() error { return errFirstPark }}

func (w *waitSide) init(seq, waiters, parked *atomic.Uint32, o *options) {
	w.seq, w.waiters, w.parked, w.o = seq, waiters, parked, o
	w.opt = atomics.WaitOptions{Strategy: atomics.Park, Spin: -1, Poll: o.poll, Check: pollCheck}
}

// wake is the waker's half: call it after the publishing store.
func (w *waitSide) wake() {
	if w.waiters.Load() != 0 { // observes: a waiter registered before our publication
		w.wakeWaiters()
	}
}

// interrupt wakes every waiter that sleeps on this side (of any process),
// for a reason other than a publication: they re-check and, if nothing
// concerns them, wait again.
func (w *waitSide) interrupt() {
	if w.waiters.Load() != 0 {
		w.seq.Add(1) // the sleepers' value changes
		atomics.Wake(w.seq, -1)
	}
}

// wakeWaiters is wake's slow half, apart so that wake inlines.
func (w *waitSide) wakeWaiters() {
	s := w.seq.Load()
	if w.parked.Load() == s && w.seq.CompareAndSwap(s, s+1) { // seq s -> s+1: the sleepers' value changes
		atomics.Wake(w.seq, -1)
	}
}

// wait blocks until ready() holds, ctx is done, or the poll period passed
// (errPoll). It may return nil without ready() holding: callers re-check.
//
// settle, when not nil, reports a change that ends the wait although ready
// does not hold: the other side has closed its every handle, which wakes
// the waiters (interrupt, wake) but cannot make ready hold. It is looked at
// once the waiter is counted (and by the Spin and Yield strategies every
// 1024 looks), not at every look of the spin: it may cost more than a
// load. A close that came before the waiter was counted woke nobody; the
// look after the count sees it, and a close after the count wakes it.
func (w *waitSide) wait(ctx context.Context, ready, settle func() bool) error {
	if h := w.holder; h != nil {
		h.holderWaits(true)
		err := w.waitFor(ctx, ready, settle)
		h.holderWaits(false)
		return err
	}
	return w.waitFor(ctx, ready, settle)
}

// waitFor is wait's body.
func (w *waitSide) waitFor(ctx context.Context, ready, settle func() bool) error {
	if err := ctx.Err(); err != nil {
		return err // done already: not after a spin of microseconds
	}
	tight := w.o.strategy == atomics.Spin
	base := w.o.spin
	if !tight {
		// Pausing between looks, spin for some microseconds in all
		// (DefaultSpin: 64 looks, about 5 µs here): long enough to catch a
		// reply from a peer on the other core, short enough that more
		// waiters than cores do not starve the producers.
		base = (base + spin.RelaxChecks - 1) / spin.RelaxChecks
	}
	var adapt *spin.Adaptive // Park only: see package spin
	if w.o.strategy == atomics.Park {
		adapt = &w.adapt
	}
	pause := spin.Relaxed
	if tight {
		pause = spin.Tight
	}
	spell, ok := adapt.Spin(base, pause, ready)
	if ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch w.o.strategy {
	case atomics.Spin, atomics.Yield:
		deadline := time.Now().Add(w.o.poll)
		for i := 1; ; i++ {
			if ready() {
				return nil
			}
			if !tight {
				spin.Relax()
			}
			if w.o.strategy == atomics.Yield {
				runtime.Gosched()
			}
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if settle != nil && settle() {
					return nil
				}
				if time.Now().After(deadline) {
					return errPoll
				}
			}
		}
	}
	seq := w.seq.Load()
	w.waiters.Add(1)
	for {
		p := w.parked.Load()
		if int32(seq-p) <= 0 || w.parked.CompareAndSwap(p, seq) { // parked p -> seq, the higher
			break
		}
	}
	done := func() bool { return ready() || settle != nil && settle() }
	if done() {
		w.waiters.Add(^uint32(0))
		return nil
	}
	t0 := spin.Now()
	w.due.Park(t0, w.o.poll)
	err := atomics.Await(ctx, w.seq, seq, &firstPark)
	if err == errFirstPark && !done() {
		err = atomics.Await(ctx, w.seq, seq, &w.opt)
	} else if err == errFirstPark {
		err = nil // a wake lost to the publication's store (see waitSide)
	}
	w.waiters.Add(^uint32(0))
	adapt.Parked(spell, t0, err == nil)
	if err == nil || err == errPoll {
		switch now := spin.Now(); {
		case err == errPoll:
			w.due.Polled(now, w.o.poll)
		case w.due.Owed(now) && !done():
			w.due.Polled(now, w.o.poll)
			err = errPoll // woken in vain past the time a poll was due
		}
	}
	return err
}
