package pool

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// WithDeathRecorder makes the pool report to fn, each time a worker dies,
// what the parent recorded as held by it: the tasks of its chunks without
// a result, as indices in their call's input (Map's). fn runs before those
// tasks fail, so before the call returns.
func WithDeathRecorder(fn func(pid int, tasks []int)) Option {
	return func(o *options) {
		o.onDeath = func(pid int, held []*chunk) {
			var tasks []int
			for _, c := range held {
				c.call.mu.Lock()
				for i := c.got; i < c.n; i++ {
					tasks = append(tasks, c.lo+i)
				}
				c.call.mu.Unlock()
			}
			fn(pid, tasks)
		}
	}
}

// Records returns the number of task records the pool has written.
func Records(p *Pool) uint64 { return p.seq.Load() }

// WithDirectHooks makes the pool call direct when a Submit has taken a
// worker's token to write its chunk itself, before it writes, and
// closeWrite when a slot has closed its worker's tasks ring.
func WithDirectHooks(direct, closeWrite func()) Option {
	return func(o *options) { o.onDirect, o.onCloseWrite = direct, closeWrite }
}

// CorruptResults makes the published tail of the results ring of slot i's
// worker a value no ring can hold (off the record alignment), as a buggy
// or hostile worker could, and returns a channel closed once the parent
// has settled that worker (its monitor has finished).
func CorruptResults(p *Pool, i int) (gone <-chan struct{}, err error) {
	p.mu.Lock()
	w := p.workers[i]
	p.mu.Unlock()
	obj, err := w.seg.Lookup("results", nil)
	if err != nil {
		return nil, err
	}
	tail := (*atomic.Uint64)(unsafe.Pointer(&obj.Body[64])) // the ring body's tail word (ringbuf/layout.go)
	tail.Add(4)
	return w.gone, nil
}

// WithRequeueHook makes the pool call fn when a dead worker's chunk is
// about to be queued again (WithRetries), before it takes the pool's lock.
func WithRequeueHook(fn func()) Option {
	return func(o *options) { o.onRequeue = fn }
}

// Stopped returns a channel closed by Terminate, once it has marked the
// pool terminated and taken the queued chunks (under the pool's lock).
func Stopped(p *Pool) <-chan struct{} { return p.stop }

// CorruptTasksHead makes the head of the tasks ring of slot i's worker, the
// word the worker publishes as it takes tasks, a value no ring can hold
// (past the tail, off the record alignment), as a buggy or hostile worker
// could. It waits for the worker to have taken every task given to it, so
// that the worker, idle, does not store its head over the value before
// the parent next reads it.
func CorruptTasksHead(p *Pool, i int) error {
	p.mu.Lock()
	w := p.workers[i]
	p.mu.Unlock()
	obj, err := w.seg.Lookup("tasks", nil)
	if err != nil {
		return err
	}
	tail := (*atomic.Uint64)(unsafe.Pointer(&obj.Body[64]))  // the ring body's tail word (ringbuf/layout.go)
	head := (*atomic.Uint64)(unsafe.Pointer(&obj.Body[128])) // its head word
	for {
		t := tail.Load()
		if head.CompareAndSwap(t, t+4) { // only once the worker has taken all it was given
			return nil
		}
		runtime.Gosched()
	}
}
