package pool

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// call is one Map, Imap, ImapUnordered or Submit: the chunks it queued
// report to it. Its mutex orders the caller giving up against the pool
// touching the caller's inputs and outputs: once cancelled is set, no
// chunk of the call is encoded or delivered.
type call struct {
	mu        sync.Mutex
	cancelled bool         // the caller returned or gave up; guarded by mu
	scratch   []byte       // encoding buffer of dispatch; guarded by mu
	completed chan *chunk  // finished chunks, buffered for all the call may have
	onDone    func(*chunk) // instead of completed (Submit); called with mu not held
}

// cancel makes the pool drop the call's chunks not yet given to a worker
// and its results still to come.
func (cl *call) cancel() {
	cl.mu.Lock()
	cl.cancelled = true
	cl.mu.Unlock()
}

func (cl *call) complete(c *chunk) {
	if cl.onDone != nil {
		cl.onDone(c)
		return
	}
	cl.completed <- c
}

// chunk is a run of tasks of one call that travels to a worker together.
type chunk struct {
	call     *call
	ops      chunkOps
	n        int    // tasks
	seq      uint64 // given at dispatch, under call.mu
	got      int    // results received (they come in order); under call.mu
	attempts int    // re-runs after a worker died
}

// chunkOps is the typed side of a chunk (a *tchunk[In, Out]).
type chunkOps interface {
	funcID() uint64
	taskKind() uint32   // recTask or recShared
	rawInputBytes() int // the payload's size when inputs are raw, else -1
	appendInputs(dst []byte) ([]byte, error)
	deliverRaw(first, count int, payload []byte) error
	deliverItem(i int, status byte, p []byte, w *worker) error
	fail(i int, err error)
}

// deliver takes one result record of the chunk and reports whether the
// chunk is complete. It drops the results of a cancelled call.
func (c *chunk) deliver(w *worker, h header, payload []byte) (bool, error) {
	cl := c.call
	cl.mu.Lock()
	defer cl.mu.Unlock()
	first, count := int(h.word), int(h.count)
	if first != c.got || count > c.n-first || count == 0 {
		return false, fmt.Errorf("pool: worker %s answered tasks %d..%d of a chunk of %d having answered %d", w.name, first, first+count, c.n, c.got)
	}
	if !cl.cancelled {
		switch h.kind {
		case resRaw:
			if err := c.ops.deliverRaw(first, count, payload); err != nil {
				return false, err
			}
		case resItems:
			for i := first; i < first+count; i++ {
				st, p, rest, err := nextItem(payload)
				if err != nil {
					return false, err
				}
				if err := c.ops.deliverItem(i, st, p, w); err != nil {
					return false, err
				}
				payload = rest
			}
		default:
			return false, fmt.Errorf("pool: result record of unknown kind %d", h.kind)
		}
	}
	c.got += count
	return c.got == c.n, nil
}

// failRest fails the tasks of the chunk that have no result yet, and
// completes it.
func (c *chunk) failRest(err error) {
	c.call.mu.Lock()
	c.failRestLocked(err)
	c.call.mu.Unlock()
	c.call.complete(c)
}

// failRestLocked is failRest's first half, with call.mu held; the caller
// completes the chunk once it has let go of the mutex.
func (c *chunk) failRestLocked(err error) {
	if !c.call.cancelled {
		for i := c.got; i < c.n; i++ {
			c.ops.fail(i, err)
		}
	}
	c.got = c.n
}

// tchunk is a chunk of tasks of Func[In, Out]: its inputs and the place for
// its outputs (slices of the caller's, for Map).
type tchunk[In, Out any] struct {
	chunk
	f    *Func[In, Out]
	in   []In
	out  []Out
	errs []error // nil until a task fails, then one per task
}

func (t *tchunk[In, Out]) init(cl *call) {
	t.chunk = chunk{call: cl, ops: t, n: len(t.in)}
	t.errs = t.errs[:0]
}

func (t *tchunk[In, Out]) funcID() uint64   { return t.f.id }
func (t *tchunk[In, Out]) taskKind() uint32 { return recTask }

func (t *tchunk[In, Out]) rawInputBytes() int {
	if t.f.inSize > 0 {
		return len(t.in) * t.f.inSize
	}
	return -1
}

func (t *tchunk[In, Out]) appendInputs(dst []byte) ([]byte, error) {
	return t.f.appendInputs(dst, t.in)
}

func (t *tchunk[In, Out]) deliverRaw(first, count int, payload []byte) error {
	return t.f.deliverRaw(t.out[first:first+count], payload)
}

func (t *tchunk[In, Out]) deliverItem(i int, status byte, p []byte, w *worker) error {
	switch status {
	case itemOK:
		var v Out
		if err := t.f.outC.Decode(p, &v); err != nil {
			t.fail(i, fmt.Errorf("pool: decoding the result of %s: %w", t.f.name, err))
			return nil
		}
		t.out[i] = v
	default:
		return deliverFailure(t, i, status, p, w)
	}
	return nil
}

// deliverFailure records the failure of task i that the worker reported.
func deliverFailure(ops chunkOps, i int, status byte, p []byte, w *worker) error {
	switch status {
	case itemErr:
		ops.fail(i, &TaskError{Worker: w.name, Pid: w.proc.Pid(), Msg: string(p)})
	case itemPanic:
		if len(p) < 4 || uint64(binary.LittleEndian.Uint32(p)) > uint64(len(p)-4) {
			return fmt.Errorf("pool: malformed panic report")
		}
		n := binary.LittleEndian.Uint32(p)
		ops.fail(i, &TaskError{Worker: w.name, Pid: w.proc.Pid(), Msg: string(p[4 : 4+n]), Panicked: true, Stack: string(p[4+n:])})
	default:
		return fmt.Errorf("pool: result of unknown status %d", status)
	}
	return nil
}

func (t *tchunk[In, Out]) fail(i int, err error) {
	if len(t.errs) < len(t.in) {
		t.errs = grow(t.errs, len(t.in))
		clear(t.errs)
	}
	t.errs[i] = err
}

// err returns task i's error.
func (t *tchunk[In, Out]) err(i int) error {
	if len(t.errs) == 0 {
		return nil
	}
	return t.errs[i]
}
