package ringbuf

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
)

// DefaultPoll is how often a blocked call re-examines its peers (is the
// producer of the record at the head dead? are all consumers gone?) unless
// WithPoll says otherwise. It bounds how long a dead peer goes unnoticed.
const DefaultPoll = 20 * time.Millisecond

// Option configures a ring handle (NewSPSC, OpenSPSC, …, SetOptions).
type Option func(*options)

type options struct {
	strategy atomics.Strategy
	spin     int
	poll     time.Duration
	slots    int
}

func defaultOptions() options {
	return options{strategy: atomics.Park, spin: atomics.DefaultSpin, poll: DefaultPoll}
}

// WithStrategy selects how this handle waits when it must block: atomics.Park
// (the default: spin briefly, then sleep on a futex), atomics.Spin (busy-spin,
// never a syscall: one core per waiter) or atomics.Yield (spin with
// runtime.Gosched). The other side of the ring may use another strategy.
func WithStrategy(s atomics.Strategy) Option { return func(o *options) { o.strategy = s } }

// WithSpin sets how many times a blocked call re-checks the ring before it
// yields or parks (default atomics.DefaultSpin; 0 or less: none).
func WithSpin(n int) Option {
	return func(o *options) { o.spin = max(n, 0) }
}

// WithPoll sets how often a blocked call checks its peers for death
// (default DefaultPoll).
func WithPoll(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.poll = d
		}
	}
}

// WithProducers sets the number of producer slots of a new MPSC ring, or of
// participant slots (producers and consumers together, one per handle) of a
// new MPMC ring: 1..MaxProducers, default DefaultProducers. Each handle that
// produces takes one slot for as long as it lives.
func WithProducers(n int) Option { return func(o *options) { o.slots = n } }

// apply applies opts and passes the poll period on to the handle's sides.
func (o *options) apply(opts []Option, sides ...*waitSide) {
	for _, f := range opts {
		f(o)
	}
	for _, w := range sides {
		w.opt.Poll = o.poll
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
// All are sequentially consistent atomics, so either the waker sees the
// waiter's increment or the waiter's re-check sees the publication (Dekker).
type waitSide struct {
	seq     *atomic.Uint32 // bumped by wakers that saw a waiter
	waiters *atomic.Uint32 // waiters registered (any process)
	opt     atomics.WaitOptions
	o       *options
}

func pollCheck() error { return errPoll }

func (w *waitSide) init(seq, waiters *atomic.Uint32, o *options) {
	w.seq, w.waiters, w.o = seq, waiters, o
	w.opt = atomics.WaitOptions{Strategy: atomics.Park, Spin: -1, Poll: o.poll, Check: pollCheck}
}

// wake is the waker's half: call it after the publishing store.
func (w *waitSide) wake() {
	if w.waiters.Load() != 0 { // observes: a waiter registered before our publication
		w.seq.Add(1)
		atomics.Wake(w.seq, -1)
	}
}

// wait blocks until ready() holds, ctx is done, or the poll period passed
// (errPoll). It may return nil without ready() holding: callers re-check.
func (w *waitSide) wait(ctx context.Context, ready func() bool) error {
	for i := 0; i < w.o.spin; i++ {
		if ready() {
			return nil
		}
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
			if w.o.strategy == atomics.Yield {
				runtime.Gosched()
			}
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if time.Now().After(deadline) {
					return errPoll
				}
			}
		}
	}
	seq := w.seq.Load()
	w.waiters.Add(1)
	if ready() {
		w.waiters.Add(^uint32(0))
		return nil
	}
	err := atomics.Await(ctx, w.seq, seq, &w.opt)
	w.waiters.Add(^uint32(0))
	return err
}
