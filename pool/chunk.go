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
	cancelled bool        // the caller returned or gave up; guarded by mu
	scratch   []byte      // encoding buffer of dispatch; guarded by mu
	completed chan *chunk // finished chunks, buffered for all the call may have
	onDone    chunkDoner  // instead of completed (Submit); called with mu not held
}

// chunkDoner is told that a chunk of its call completed (a Submit's).
type chunkDoner interface{ chunkDone(*chunk) }

// cancel makes the pool drop the call's chunks not yet given to a worker
// and its results still to come.
func (cl *call) cancel() {
	cl.mu.Lock()
	cl.cancelled = true
	cl.mu.Unlock()
}

func (cl *call) complete(c *chunk) {
	if cl.onDone != nil {
		cl.onDone.chunkDone(c)
		return
	}
	cl.completed <- c
}

// chunk is a run of tasks of one call that travels to a worker together.
type chunk struct {
	call     *call
	ops      chunkOps
	n        int       // tasks
	lo       int       // the index of its first task in its call (Map's input)
	got      int       // results received (they come in order); under call.mu
	attempts int       // re-runs after a worker died
	single   bool      // a Submit's: may share a record with others (see batchable)
	noRetry  bool      // never run again after a death (MapShared in place, see there)
	one      [1]*chunk // itself: the chunks of a record that carries only it
	rec      record    // the record that carries only it (no allocation)
}

// record is one task record given to a worker: a chunk, or several small
// chunks of one function that were queued together (batched by the slot,
// see takeBatch), their inputs one after another. The worker sees one
// chunk of n tasks; the parent splits its results among the chunks.
type record struct {
	seq    uint64
	chunks []*chunk
	n      int // tasks, all chunks together
	got    int // results received; written by the reader only
}

// chunkOps is the typed side of a chunk (a *tchunk[In, Out]).
type chunkOps interface {
	funcID() uint64
	taskKind() uint32   // recTask or recShared
	rawInputBytes() int // the payload's size when inputs are raw, else -1
	rawResultSize() int // the size of one raw result in a resRaw record
	appendInputs(dst []byte) ([]byte, error)
	deliverRaw(first, count int, payload []byte) error
	deliverItem(i int, status byte, p []byte, w *worker) error
	fail(i int, err error)
	restart() // forgets the failures of an attempt cut short; under call.mu
}

// splitResults splits the payload of count results of kind off the
// front of payload.
func splitResults(kind uint32, payload []byte, count, rawSize int) (part, rest []byte, err error) {
	switch kind {
	case resRaw:
		if size := uint64(count) * uint64(rawSize); size <= uint64(len(payload)) {
			return payload[:size], payload[size:], nil
		}
		return nil, nil, fmt.Errorf("pool: raw results of %d bytes for %d results of %d bytes", len(payload), count, rawSize)
	case resItems:
		rest = payload
		for range count {
			if _, _, rest, err = nextItem(rest); err != nil {
				return nil, nil, err
			}
		}
		return payload[:len(payload)-len(rest)], rest, nil
	}
	return nil, nil, fmt.Errorf("pool: result record of unknown kind %d", kind)
}

// deliver takes count results of the chunk from first on, of a result
// record of kind, and reports whether the chunk is complete. It drops the
// results of a cancelled call.
func (c *chunk) deliver(w *worker, kind uint32, first, count int, payload []byte) (bool, error) {
	cl := c.call
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if first != c.got || count > c.n-first || count == 0 {
		return false, fmt.Errorf("pool: worker %s answered tasks %d..%d of a chunk of %d having answered %d", w.name, first, first+count, c.n, c.got)
	}
	if !cl.cancelled {
		switch kind {
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
			return false, fmt.Errorf("pool: result record of unknown kind %d", kind)
		}
	}
	c.got += count
	return c.got == c.n, nil
}

// failRest fails the tasks of the chunk that have no result yet, and
// completes it; a chunk that has all its results is complete already.
func (c *chunk) failRest(err error) {
	c.call.mu.Lock()
	if c.got == c.n {
		c.call.mu.Unlock()
		return
	}
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

func (t *tchunk[In, Out]) init(cl *call, lo int) {
	t.chunk = chunk{call: cl, ops: t, n: len(t.in), lo: lo}
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

func (t *tchunk[In, Out]) rawResultSize() int { return t.f.outSize }

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
	case itemTooLarge:
		ops.fail(i, &TaskError{Worker: w.name, Pid: w.proc.Pid(), Msg: string(p), sentinel: ErrTooLarge})
	case itemNotRegistered:
		ops.fail(i, &TaskError{Worker: w.name, Pid: w.proc.Pid(), Msg: string(p), sentinel: ErrNotRegistered})
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

// fail records task i's error, and zeroes its output: a result an
// earlier attempt of the chunk delivered is not the failed task's.
func (t *tchunk[In, Out]) fail(i int, err error) {
	if len(t.errs) < len(t.in) {
		t.errs = grow(t.errs, len(t.in))
		clear(t.errs)
	}
	t.errs[i] = err
	if i < len(t.out) {
		var zero Out
		t.out[i] = zero
	}
}

// restart forgets the failures recorded so far: the chunk runs again from
// its first task, and each task's result is the new attempt's.
func (t *tchunk[In, Out]) restart() { t.errs = t.errs[:0] }

// err returns task i's error.
func (t *tchunk[In, Out]) err(i int) error {
	if len(t.errs) == 0 {
		return nil
	}
	return t.errs[i]
}
