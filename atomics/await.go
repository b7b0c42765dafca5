package atomics

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/sleepslice"
)

// Strategy says how a waiter waits once the condition it wants is not met,
// after the Disruptor's wait strategies.
type Strategy uint8

const (
	// Park spins briefly, then parks on the futex. It is the default: it
	// makes progress with more waiters than cores, and costs no CPU while
	// idle.
	Park Strategy = iota
	// Spin busy-spins and never makes a syscall: lowest latency, one core
	// burnt per waiter. Use it only with a core to spare for each spinner.
	Spin
	// Yield spins, then calls runtime.Gosched between checks: no syscall,
	// but other goroutines of the process still run.
	Yield
)

// String returns the strategy's name: "park", "spin" or "yield".
func (s Strategy) String() string {
	switch s {
	case Park:
		return "park"
	case Spin:
		return "spin"
	case Yield:
		return "yield"
	}
	return "strategy(" + strconv.Itoa(int(s)) + ")"
}

// DefaultSpin is the number of checks Await makes before it yields or parks.
// About a microsecond: long enough to catch a peer that is running on the
// other core, short enough not to starve it when both share one.
const DefaultSpin = 512

// WaitOptions tune Await. The zero value parks after DefaultSpin checks and
// never polls.
type WaitOptions struct {
	Strategy Strategy
	// Spin is the number of checks before yielding or parking; 0 means
	// DefaultSpin, a negative value means none.
	Spin int
	// Poll, when positive, makes Await call Check at least this often while
	// it waits. Objects use it to notice a peer process that died without
	// waking anybody.
	Poll time.Duration
	// Check, when set, is called every Poll; an error it returns ends the
	// wait with that error.
	Check func() error
}

// Await blocks until w no longer holds old, ctx is done (it returns
// ctx.Err()), or o.Check returns an error. It may return nil early
// (spuriously): callers loop, re-checking their own condition.
//
// Await does not pin one OS thread per goroutine: of all goroutines of a
// process parked on the same word, one waits in the kernel and the others
// wait on a channel that it closes when it returns. A waker must
// change the word before calling Wake, or the wake may be lost.
func Await(ctx context.Context, w *atomic.Uint32, old uint32, o *WaitOptions) error {
	var opt WaitOptions
	if o != nil {
		opt = *o
	}
	spin := opt.Spin
	if spin == 0 {
		spin = DefaultSpin
	}
	if w.Load() != old {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err // done already: not after the spin
	}
	for i := 1; i < spin; i++ {
		if w.Load() != old {
			return nil
		}
	}
	switch opt.Strategy {
	case Spin, Yield:
		return busyWait(ctx, w, old, &opt)
	}
	return park(ctx, w, old, &opt)
}

// busyWait checks the word without ever making a syscall; it looks at the
// context and the Check function every few thousand rounds when spinning,
// and every round when yielding: a Gosched in a process whose other
// goroutines compute lasts their scheduling slice (10 ms), and thousands of
// those put a deadline or a dead peer tens of seconds late.
func busyWait(ctx context.Context, w *atomic.Uint32, old uint32, o *WaitOptions) error {
	var next time.Time
	if o.Poll > 0 {
		next = time.Now().Add(o.Poll)
	}
	for i := 1; ; i++ {
		if w.Load() != old {
			return nil
		}
		if o.Strategy == Yield {
			runtime.Gosched()
		}
		if o.Strategy == Yield || i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if o.Check != nil && o.Poll > 0 && time.Now().After(next) {
				if err := o.Check(); err != nil {
					return err
				}
				next = time.Now().Add(o.Poll)
			}
		}
	}
}

// group gathers the goroutines of this process that park on one word. At
// most one of them, the sleeper, waits in the kernel; the others wait on ch,
// which the sleeper closes when it leaves, so they re-check and one of them
// becomes the next sleeper. ch is made only when a second waiter comes, so a
// lone waiter (the ping-pong case) parks without allocating.
type group struct {
	// All fields are guarded by mu.
	mu       sync.Mutex
	sleeping bool          // a goroutine is (about to be) in futex_wait
	val      uint32        // the value that sleeper waits on
	ch       chan struct{} // closed when the sleeper leaves; nil if nobody listens
	users    int           // goroutines registered, sleeper included
}

var (
	groupsMu  sync.Mutex
	groups    = map[uintptr]*group{}
	groupFree []*group
)

func acquireGroup(addr uintptr) *group {
	groupsMu.Lock()
	g := groups[addr]
	if g == nil {
		if n := len(groupFree); n > 0 {
			g, groupFree = groupFree[n-1], groupFree[:n-1]
		} else {
			g = new(group)
		}
		groups[addr] = g
	}
	g.users++ // guarded by groupsMu while the group is looked up
	groupsMu.Unlock()
	return g
}

func releaseGroup(addr uintptr, g *group) {
	groupsMu.Lock()
	g.users--
	if g.users == 0 {
		delete(groups, addr)
		groupFree = append(groupFree, g)
	}
	groupsMu.Unlock()
}

// sleepSlice bounds one futex wait of a sleeper whose context has no
// deadline, so that a Check is never later than this. Tests that must see
// a lost wake-up lengthen it (internal/sleepslice): the slice would turn
// the loss into a delay of its length.
const sleepSlice = 250 * time.Millisecond

func park(ctx context.Context, w *atomic.Uint32, old uint32, o *WaitOptions) error {
	addr := uintptr(unsafe.Pointer(w))
	g := acquireGroup(addr)
	defer releaseGroup(addr, g)
	if w.Load() != old {
		return nil
	}
	g.mu.Lock()
	if !g.sleeping {
		g.sleeping, g.val = true, old
		g.mu.Unlock()
		err := sleep(ctx, w, old, o)
		g.mu.Lock()
		g.sleeping = false
		if g.ch != nil {
			close(g.ch)
			g.ch = nil
		}
		g.mu.Unlock()
		return err
	}
	// Someone else sleeps for us. If it waits on another value it may not
	// be woken when ours changes: kick it (a spurious wake for everyone on
	// the word, which they tolerate).
	kick := g.val != old
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	ch := g.ch
	g.mu.Unlock()
	if kick {
		Wake(w, -1)
	}
	var tick <-chan time.Time
	if o.Poll > 0 && o.Check != nil {
		t := time.NewTimer(o.Poll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-tick:
		return o.Check()
	}
}

// quickSlice is the first futex wait of a sleeper whose context can be
// cancelled. It is made without registering a context.AfterFunc (which
// allocates), so the common short wait costs no allocation; a cancel that
// comes during it is seen when it ends.
const quickSlice = time.Millisecond

// cancelWake turns a cancel into a wake of a sleeper, and of nobody
// else: a wake of every sleeper on the word, in every process, ended their
// sleeps early, so that a waiter beside one whose waits are cancelled
// often never slept its poll period through and never ran its Check
// (TestAwaitCheckDespiteSpuriousWakes). Where futex_waitv runs (own), the
// sleeper sleeps on its word and on own too, and the cancel wakes own.
// Elsewhere (Linux before 5.16) the sleeper's waits are FUTEX_WAIT_BITSET
// of this process's bit (cancelBit), and the cancel wakes that bit of the
// word; it stops touching the word once the sleeper has left: the
// AfterFunc that runs wake may start after sleep has returned, and sleep's
// caller may unmap the word by then (a wake on an unmapped word fails).
type cancelWake struct {
	mu    sync.Mutex
	w     *atomic.Uint32 // nil once the sleeper has left
	waitv bool           // the sleeper waits on own too (futex_waitv); set before the AfterFunc
	bit   uint32         // else the bit of the sleeper's FUTEX_WAIT_BITSET
	own   atomic.Uint32  // 0 until the cancel: the sleeper's private futex word
}

func (c *cancelWake) wake() {
	if c.waitv {
		c.own.Store(1) // publishes: the cancel (before the wake, or the sleeper sleeps on)
		wakeCancel(&c.own)
		return
	}
	c.mu.Lock()
	if c.w != nil {
		wakeBit(c.w, c.bit)
	}
	c.mu.Unlock()
}

// leave is the sleeper's half: it waits for a wake that is running, and
// any wake after it does nothing.
func (c *cancelWake) leave() {
	c.mu.Lock()
	c.w = nil
	c.mu.Unlock()
}

// sleep is the sleeper's wait in the kernel: until woken, the deadline, the
// poll period, or a cancel (which an AfterFunc turns into a wake).
func sleep(ctx context.Context, w *atomic.Uint32, old uint32, o *WaitOptions) error {
	timeout := sleepslice.Get(sleepSlice)
	if o.Poll > 0 && o.Poll < timeout {
		timeout = o.Poll
	}
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout {
			if left <= 0 {
				return context.DeadlineExceeded
			}
			timeout = left
		}
	}
	// Where futex_waitv is missing every wait here is a FUTEX_WAIT_BITSET
	// of this process's bit, the cancellable ones' and the others' alike:
	// a plain FUTEX_WAIT has every bit, and another process's cancel
	// (cancelWake) would wake it.
	var bit uint32
	waitv := haveWaitv()
	if !waitv {
		bit = cancelBit.Load()
	}
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if timeout > quickSlice {
			err := waitAs(w, old, bit, quickSlice)
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != ErrTimeout {
				return err
			}
			timeout -= quickSlice
			cw := &cancelWake{w: w, waitv: waitv, bit: bit}
			stop := context.AfterFunc(ctx, cw.wake)
			defer func() {
				if !stop() {
					cw.leave() // its wake may be running: wait for it, then bar it
				}
			}()
			// A cancel between the check above and the registration runs
			// the wake at once, possibly before we sleep: look again.
			if err := ctx.Err(); err != nil {
				return err
			}
			if cw.waitv {
				return slept(ctx, waitOrCancel(w, old, &cw.own, timeout), o)
			}
		}
	}
	return slept(ctx, waitAs(w, old, bit, timeout), o)
}

// waitAs is Wait (timeout > 0), a FUTEX_WAIT_BITSET of bit unless bit is 0.
func waitAs(w *atomic.Uint32, old, bit uint32, timeout time.Duration) error {
	if bit != 0 {
		return waitBit(w, old, bit, timeout)
	}
	return Wait(w, old, timeout)
}

// slept is what sleep returns after its wait in the kernel ended with err.
func slept(ctx context.Context, err error, o *WaitOptions) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err == ErrTimeout {
		if o.Check != nil {
			return o.Check()
		}
		return nil
	}
	return err
}
