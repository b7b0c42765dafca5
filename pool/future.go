package pool

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/spin"
)

// Future is the result of a task given to Submit (Python's AsyncResult and
// concurrent.futures.Future). Its methods are safe for concurrent use.
type Future[Out any] struct {
	done  chan struct{}
	set   atomic.Bool    // published with out and err, before done closes
	adapt *spin.Adaptive // the pool's: how long Get spins before it parks

	mu       sync.Mutex
	out      Out
	err      error
	finished bool
	cbs      []func(Out, error)
}

// Submit gives one task to the pool and returns at once (Python's
// apply_async and Executor.submit). When ctx ends before a worker has taken
// the task, it is withdrawn and the Future's error is ctx's; a task already
// running finishes, its result dropped. After Close, the Future fails with
// ErrClosed.
func Submit[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], in In) *Future[Out] {
	s := &submission[In, Out]{in: [1]In{in}}
	fu, t, cl := &s.fu, &s.t, &s.cl
	fu.done, fu.adapt = make(chan struct{}), &p.getSpin
	t.f, t.in, t.out = f, s.in[:], s.out[:]
	cl.onDone = s
	t.init(cl, 0)
	t.single = true
	if err := ctx.Err(); err != nil {
		fu.finish(t.out[0], err)
		return fu
	}
	if err := p.submit(&t.chunk); err != nil {
		fu.finish(t.out[0], err)
		return fu
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			// Settled first: once cancelled, the chunk may complete
			// with its result dropped, which would settle it as a
			// success with a zero value.
			var zero Out
			fu.finish(zero, ctx.Err())
			cl.cancel()
		})
		fu.OnDone(func(Out, error) { stop() })
	}
	return fu
}

// submission is a Submit's future, chunk, call, input and output in one
// allocation.
type submission[In, Out any] struct {
	fu  Future[Out]
	t   tchunk[In, Out]
	cl  call
	in  [1]In
	out [1]Out
}

// chunkDone finishes the future with the task's result (see call.onDone).
func (s *submission[In, Out]) chunkDone(*chunk) { s.fu.finish(s.out[0], s.t.err(0)) }

// Apply runs one task and waits for its result (Python's Pool.apply).
func Apply[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], in In) (Out, error) {
	return Submit(ctx, p, f, in).Get(ctx)
}

// finish settles the future once; later calls do nothing.
func (fu *Future[Out]) finish(out Out, err error) {
	fu.mu.Lock()
	if fu.finished {
		fu.mu.Unlock()
		return
	}
	fu.out, fu.err, fu.finished = out, err, true
	cbs := fu.cbs
	fu.cbs = nil
	close(fu.done)     // before set: a Get that saw set finds Ready true
	fu.set.Store(true) // publishes: out and err, for a spinning Get
	fu.mu.Unlock()
	for _, cb := range cbs {
		cb(out, err)
	}
}

// getSpin is the base of Get's spin, in looks with a pause between them
// (some microseconds, as a ring's wait); see package spin for how it grows.
const getSpin = 64

// Get waits for the task and returns its result (Python's get), or ctx's
// error when ctx ends first; the task goes on either way. It spins a
// while before it parks (as long as results of the pool's tasks have been
// coming after it began to wait), so that a result that comes soon reaches
// it without a wake-up of its goroutine.
func (fu *Future[Out]) Get(ctx context.Context) (Out, error) {
	if fu.set.Load() { // observes: out and err (see finish)
		return fu.out, fu.err
	}
	var (
		spell spin.Spell
		t0    int64
	)
	if fu.adapt != nil && ctx.Err() == nil {
		var ok bool
		if spell, ok = fu.adapt.Spin(getSpin, spin.Relaxed, fu.set.Load); ok { // observes: out and err
			return fu.out, fu.err
		}
		t0 = spin.Now()
	}
	select {
	case <-fu.done:
		if fu.adapt != nil && t0 != 0 {
			fu.adapt.Parked(spell, t0, true)
		}
		return fu.out, fu.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// Done returns a channel closed when the task has finished.
func (fu *Future[Out]) Done() <-chan struct{} { return fu.done }

// Ready reports whether the task has finished (Python's ready).
func (fu *Future[Out]) Ready() bool {
	select {
	case <-fu.done:
		return true
	default:
		return false
	}
}

// Err returns the task's error once it has finished: nil for a success or
// while it runs (Python's successful, inverted).
func (fu *Future[Out]) Err() error {
	if !fu.Ready() {
		return nil
	}
	return fu.err
}

// OnDone calls fn with the result when the task finishes (Python's callback
// and error_callback in one), or at once when it has. fn runs on the
// goroutine that reads the worker's results: it must not block. It may
// call Close and Terminate (which then returns without waiting for the
// workers' exit), not Join.
func (fu *Future[Out]) OnDone(fn func(Out, error)) {
	fu.mu.Lock()
	if !fu.finished {
		fu.cbs = append(fu.cbs, fn)
		fu.mu.Unlock()
		return
	}
	fu.mu.Unlock()
	fn(fu.out, fu.err)
}
