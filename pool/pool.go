package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/goid"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// Pool is a set of worker processes that run registered functions (Python's
// multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor). Make it
// with Start; its methods, and the calls that take it, are safe for
// concurrent use. A Pool must not be copied.
type Pool struct {
	opts options

	mu         sync.Mutex
	queue      []*chunk // tasks not yet given to a worker, oldest at qhead
	qhead      int
	closed     bool      // Close or Terminate: no new calls
	terminated bool      // Terminate: no new dispatches
	underWay   int       // Imaps begun before Close, which submit as they are read (see begin)
	workers    []*worker // each slot's current worker

	wake     chan struct{} // capacity 1: the queue gained a chunk
	closedCh chan struct{} // closed once closed with no Imap under way: the slots may end
	stop     chan struct{} // closed by Terminate
	slots    sync.WaitGroup
	slotsEnd chan struct{} // closed when every slot has finished

	// own holds the goroutines of the pool (goid.ID) that run OnDone
	// callbacks: the slots', the readers' and the monitors'. A Terminate
	// called from one of them does not wait for the slots, which wait for
	// it (TestTerminateFromCallback).
	own sync.Map

	seq     atomic.Uint64 // record sequence numbers
	number  atomic.Int64  // worker numbers, for names
	getSpin spin.Adaptive // Future.Get's spin, learnt from past Gets
}

// worker is one worker process and the parent's side of its rings.
type worker struct {
	name           string
	proc           *process.Process
	seg            *shm.Segment
	tasks, results *ringbuf.SPSC
	ctx            context.Context // ended when the process has exited
	cancel         context.CancelFunc
	tokens         chan struct{} // one per chunk it may still be given
	ready          chan struct{} // closed when its initializer has run
	died           chan struct{} // closed when the process has exited
	readerDone     chan struct{} // closed when its results are all read
	gone           chan struct{} // closed when its tasks are settled

	// wmu makes the dispatchers one producer of the tasks ring: the slot's
	// goroutine and callers of Submit that give a chunk straight to the
	// worker (see submit) both write to it.
	wmu sync.Mutex

	// mu guards the fields below. inflight is appended by the dispatchers
	// (under wmu too), popped by the reader, taken whole by the monitor.
	mu         sync.Mutex
	inflight   []*record // given to the worker and not finished, oldest first
	dispatched int
	retiring   bool // it has been given its last chunk (MaxTasksPerChild)
	dead       bool // the monitor has taken inflight
	readyOnce  sync.Once
}

// Start starts a pool and waits until its workers are ready: started, and
// their initializer run. It fails when a worker dies before that, or when
// ctx ends first; ctx does not bound the pool's life. Close (then Join) or
// Terminate a pool when done with it: its workers and goroutines live until
// then (and die with this process in any case).
func Start(ctx context.Context, opts ...Option) (*Pool, error) {
	p := &Pool{opts: defaults(), wake: make(chan struct{}, 1), closedCh: make(chan struct{}), stop: make(chan struct{}), slotsEnd: make(chan struct{})}
	for _, o := range opts {
		o(&p.opts)
	}
	if p.opts.processes < 1 || p.opts.inflight < 1 || p.opts.maxTasks < 0 || p.opts.retries < 0 {
		return nil, fmt.Errorf("pool: processes and in-flight chunks must be at least 1, max tasks and retries not negative")
	}
	if p.opts.maxRecord() < hdrSize+64 {
		return nil, fmt.Errorf("pool: buffer of %d bytes is too small", p.opts.buffer)
	}
	p.workers = make([]*worker, p.opts.processes)
	var err error
	for i := range p.workers {
		if p.workers[i], err = p.startWorker(); err != nil {
			break
		}
	}
	for _, w := range p.workers {
		if err != nil || w == nil {
			break
		}
		select {
		case <-w.ready:
		case <-w.died:
			<-w.gone
			err = fmt.Errorf("pool: worker %s exited before it was ready: %w", w.name, w.proc.Wait())
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		for _, w := range p.workers {
			if w != nil {
				w.proc.Kill()
				w.release()
			}
		}
		return nil, err
	}
	p.slots.Add(len(p.workers))
	for i := range p.workers {
		p.goroutine(func() { p.runSlot(i) })
	}
	go func() { p.slots.Wait(); close(p.slotsEnd) }()
	return p, nil
}

// Processes returns the number of worker processes.
func (p *Pool) Processes() int { return p.opts.processes }

// startWorker starts one worker process with rings of its own.
func (p *Pool) startWorker() (*worker, error) {
	o := &p.opts
	seg, err := shm.CreateAnon(int64(2*o.buffer) + 64<<10)
	if err != nil {
		return nil, err
	}
	w := &worker{seg: seg, tokens: make(chan struct{}, o.inflight), ready: make(chan struct{}), died: make(chan struct{}), readerDone: make(chan struct{}), gone: make(chan struct{})}
	if w.tasks, err = ringbuf.NewSPSC(seg, "tasks", o.buffer); err == nil {
		w.results, err = ringbuf.NewSPSC(seg, "results", o.buffer)
	}
	if err == nil {
		err = w.tasks.AttachProducer()
	}
	if err == nil {
		err = w.results.AttachConsumer()
	}
	if err != nil {
		seg.Close()
		return nil, err
	}
	w.name = fmt.Sprintf("%s-%d", o.prefix, p.number.Add(1))
	args := workerArgs{Tasks: w.tasks, Results: w.results, MaxTasks: o.maxTasks, MaxRecord: o.maxRecord()}
	if o.init != nil {
		args.Init = o.init.name
	}
	popts := []process.Option{process.WithName(w.name)}
	if o.stdout != nil {
		popts = append(popts, process.WithStdout(o.stdout))
	}
	if o.stderr != nil {
		popts = append(popts, process.WithStderr(o.stderr))
	}
	w.proc, err = workerMain.Start(context.Background(), args, popts...)
	if err != nil {
		w.tasks.Close()
		w.results.Close()
		seg.Close()
		return nil, err
	}
	for range o.inflight {
		w.tokens <- struct{}{}
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	p.goroutine(func() { p.readResults(w) })
	p.goroutine(func() { p.monitor(w) })
	return w, nil
}

// monitor waits for the worker to exit, lets the reader take every result
// the worker committed, then settles the chunks it still held: again on
// another worker (WithRetries), or failed with a *WorkerError.
func (p *Pool) monitor(w *worker) {
	<-w.proc.Done()
	close(w.died)
	w.cancel()
	<-w.readerDone
	w.mu.Lock()
	w.dead = true
	var held []*chunk
	for _, r := range w.inflight {
		held = append(held, r.chunks...) // those with results still to come
	}
	w.inflight = nil
	w.mu.Unlock()
	if p.opts.onDeath != nil {
		p.opts.onDeath(w.proc.Pid(), held)
	}
	if len(held) > 0 {
		werr := &WorkerError{Worker: w.name, Pid: w.proc.Pid(), Code: w.proc.ExitCode()}
		var ee *process.ExitError
		if errors.As(w.proc.Wait(), &ee) {
			werr.Stderr = ee.Stderr
		}
		p.mu.Lock()
		terminated := p.terminated
		p.mu.Unlock()
		for _, c := range held {
			switch {
			case terminated:
				c.failRest(ErrClosed)
			case c.attempts < p.opts.retries && !c.noRetry:
				if !p.requeue(c) {
					c.failRest(ErrClosed) // Terminate came since the look above
				}
			default:
				c.failRest(werr)
			}
		}
	}
	close(w.gone)
}

// release closes the parent's side of the worker's rings and its segment,
// once the worker is gone. Only the slot that dispatches to the worker (or
// Start, before the slots run) calls it: it alone writes to the rings then.
func (w *worker) release() {
	<-w.gone
	w.wmu.Lock() // a caller of Submit may still be in dispatch, about to find w dead
	defer w.wmu.Unlock()
	w.tasks.Close()
	w.results.Close()
	w.seg.Close()
}

// readResults reads the worker's results until it has exited and its ring
// is empty.
func (p *Pool) readResults(w *worker) {
	defer close(w.readerDone)
	for {
		rec, err := w.results.Peek(w.ctx)
		if err != nil {
			if w.ctx.Err() == nil {
				// The worker died (ErrPeerDead), or its ring is corrupt
				// (ErrCorrupt) while it may still run: nobody reads its
				// results from now on, so it is not trusted further and
				// its exit settles what it holds (a kill does nothing to
				// a process that has exited).
				w.proc.Kill()
				return
			}
			for { // it exited: take what it committed
				rec, ok, err := w.results.TryPeek()
				if !ok || err != nil {
					return
				}
				if err := p.handle(w, rec); err != nil {
					return
				}
				w.results.Discard()
			}
		}
		if err := p.handle(w, rec); err != nil {
			w.proc.Kill() // a worker that writes garbage is not trusted further
			return
		}
		w.results.Discard()
	}
}

// handle takes one result record: results for the oldest record the
// worker holds, from where the last left off, which it splits among that
// record's chunks. A chunk complete is completed at once, and leaves the
// record, so that a worker's death fails only chunks with results to come.
func (p *Pool) handle(w *worker, rec []byte) error {
	h, err := readHeader(rec)
	if err != nil {
		return err
	}
	if h.kind == resReady {
		w.readyOnce.Do(func() { close(w.ready) })
		return nil
	}
	w.mu.Lock()
	var r *record
	if len(w.inflight) > 0 {
		r = w.inflight[0]
	}
	w.mu.Unlock()
	if r == nil || r.seq != h.seq {
		return fmt.Errorf("pool: worker %s answered chunk %d, which it does not hold", w.name, h.seq)
	}
	first, count := int(h.word), int(h.count)
	if first != r.got || count == 0 || count > r.n-first {
		return fmt.Errorf("pool: worker %s answered tasks %d..%d of a chunk of %d having answered %d", w.name, first, first+count, r.n, r.got)
	}
	payload := rec[hdrSize:]
	for count > 0 {
		c := r.chunks[0] // r.got < r.n: a chunk is left
		k := min(count, c.n-c.got)
		part, rest, err := splitResults(h.kind, payload, k, c.ops.rawResultSize())
		if err != nil {
			return err
		}
		complete, err := c.deliver(w, h.kind, c.got, k, part)
		if err != nil {
			return err
		}
		payload, count, r.got = rest, count-k, r.got+k
		if !complete {
			continue
		}
		w.mu.Lock()
		r.chunks = r.chunks[1:]
		last := r.got == r.n
		if last {
			w.inflight[0] = nil
			w.inflight = w.inflight[1:]
		}
		w.mu.Unlock()
		if last {
			w.tokens <- struct{}{}
		}
		c.call.complete(c)
	}
	if len(payload) != 0 {
		return fmt.Errorf("pool: worker %s sent %d bytes past its results", w.name, len(payload))
	}
	return nil
}

// submit queues the chunks of a call.
func (p *Pool) submit(cs ...*chunk) error { return p.submitAs(false, cs...) }

// submitAs is submit; underWay says the chunks are those of an Imap under
// way (begin), which Close lets finish: only Terminate refuses them.
func (p *Pool) submitAs(underWay bool, cs ...*chunk) error {
	p.mu.Lock()
	if p.refuses(underWay) {
		p.mu.Unlock()
		return ErrClosed
	}
	if len(cs) == 1 && p.qhead == len(p.queue) {
		// One chunk and nothing queued (Submit, mostly): give it to a
		// worker with room from this goroutine, saving the hand-off to a
		// slot's. A worker that cannot take it (it died or retired since)
		// gives its token back, and the chunk is queued as usual.
	direct:
		for _, w := range p.workers {
			if w == nil || w.isDone() {
				continue
			}
			select {
			case <-w.tokens:
				p.mu.Unlock()
				if p.opts.onDirect != nil {
					p.opts.onDirect()
				}
				if p.dispatch(w, cs[0]) {
					return nil
				}
				p.mu.Lock()
				if p.refuses(underWay) {
					p.mu.Unlock()
					return ErrClosed
				}
				break direct
			default:
			}
		}
	}
	p.queue = append(p.queue, cs...)
	p.mu.Unlock()
	p.signal()
	return nil
}

// emptyCall is the error of a call of no inputs, which queues nothing:
// ErrClosed after Close or Terminate, as for any call, else ctx's.
func (p *Pool) emptyCall(ctx context.Context) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return ctx.Err()
}

// refuses reports whether a submit is refused: after Close, unless it is
// an Imap's under way; after Terminate. p.mu is held.
func (p *Pool) refuses(underWay bool) bool {
	return p.terminated || p.closed && !underWay
}

// begin counts an Imap in as under way: Close lets it submit the rest of
// its inputs, and the slots go on taking until it ends (end). An Imap
// submits its chunks as its results are read, and Close, which says the
// calls under way finish, failed its next submit with ErrClosed: the
// results of its chunks already running were dropped
// (TestImapUnderWayAtClose). false once the pool is closed.
func (p *Pool) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.underWay++
	return true
}

// end counts out an Imap that begin counted in; the last one out of a
// closed pool lets the slots end.
func (p *Pool) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.underWay--
	if p.closed && p.underWay == 0 {
		close(p.closedCh)
	}
}

// requeue puts a dead worker's chunk back at the head of the queue, to
// run again from its first task; false, and c left as it was, once the
// pool is terminated: Terminate has failed what was queued, and no slot
// takes from the queue any more, so a chunk put there would never
// complete. The check and the queueing are one critical section with
// Terminate's.
func (p *Pool) requeue(c *chunk) bool {
	if p.opts.onRequeue != nil {
		p.opts.onRequeue()
	}
	p.mu.Lock()
	if p.terminated {
		p.mu.Unlock()
		return false
	}
	c.attempts++
	// The chunk runs again from its first task, so the failures its
	// results recorded before the death go too: a task that failed then
	// and succeeds now is a success (the outputs are overwritten anyway).
	// Under the call's mutex, which guards them (after the pool's: no path
	// takes them the other way round).
	c.call.mu.Lock()
	c.got = 0
	c.ops.restart()
	c.call.mu.Unlock()
	if p.qhead > 0 {
		p.qhead--
		p.queue[p.qhead] = c
	} else {
		p.queue = append([]*chunk{c}, p.queue...)
	}
	p.mu.Unlock()
	p.signal()
	return true
}

func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take appends the next queued chunk to dst, and the chunks queued behind
// it that may travel in one record with it (see batchable), waiting for
// one; it returns dst unchanged once the pool is closed and the queue
// empty, or terminated.
func (p *Pool) take(dst []*chunk) []*chunk {
	for {
		p.mu.Lock()
		if p.terminated {
			p.mu.Unlock()
			return dst
		}
		if p.qhead < len(p.queue) {
			c := p.queue[p.qhead]
			share := (len(p.queue) - p.qhead + p.opts.processes - 1) / p.opts.processes
			p.queue[p.qhead] = nil
			p.qhead++
			dst = append(dst, c)
			if p.opts.maxTasks == 0 && batchable(c) {
				room, tasks := p.opts.maxRecord()-hdrSize-c.ops.rawInputBytes(), c.n
				for k := 1; k < share && p.qhead < len(p.queue); k++ {
					d := p.queue[p.qhead]
					if !batchable(d) || d.ops.funcID() != c.ops.funcID() || d.ops.rawInputBytes() > room || tasks+d.n > batchTasks {
						break
					}
					p.queue[p.qhead] = nil
					p.qhead++
					dst = append(dst, d)
					room -= d.ops.rawInputBytes()
					tasks += d.n
				}
			}
			more := p.qhead < len(p.queue)
			if !more {
				p.queue, p.qhead = p.queue[:0], 0
			}
			p.mu.Unlock()
			if more {
				p.signal()
			}
			return dst
		}
		closed := p.closed && p.underWay == 0 // no Imap left to submit more
		p.mu.Unlock()
		if closed {
			return dst
		}
		select {
		case <-p.wake:
		case <-p.closedCh:
		case <-p.stop:
		}
	}
}

// runSlot gives queued chunks to the slot's worker, as many at a time as
// MaxInFlight allows, and replaces the worker when it has died or retired
// and there is a chunk for it. It takes a chunk from the queue only once
// its worker may be given one, so that a chunk never waits in a slot while
// another worker is free.
func (p *Pool) runSlot(i int) {
	defer p.slots.Done()
	p.mu.Lock()
	w := p.workers[i]
	p.mu.Unlock()
	var (
		buf     []*chunk
		scratch []byte
	)
	for {
		if w != nil && w.isDone() {
			// It died, or it retired (MaxTasksPerChild) and exits once it
			// has answered what it holds: it takes no more. A chunk taken
			// now would wait here until it has exited, behind its last
			// task however long, while another worker may be free; so
			// the slot waits for it first, and takes a chunk only for
			// the fresh worker that replaces it.
			select {
			case <-w.gone:
				w.release()
				w = nil
			case <-p.stop:
				// take returns nothing from now on; w is released below
			}
		} else if w != nil {
			select {
			case <-w.tokens:
			case <-w.died:
				<-w.gone // not a spin while the monitor settles what it held
				continue
			case <-p.stop:
				// take returns nothing from now on (a continue here
				// would spin until the killed worker is seen dead)
			}
		}
		clear(buf)
		cs := p.take(buf[:0])
		buf = cs
		if len(cs) == 0 {
			if w != nil {
				w.wmu.Lock()
				// Retiring first: a Submit that took a token before
				// Close and writes to w itself then finds w closed (see
				// enlist) and fails with ErrClosed, instead of
				// enlisting a record the worker will never read.
				w.mu.Lock()
				w.retiring = true
				w.mu.Unlock()
				w.tasks.CloseWrite() // the worker finishes what it holds and exits
				w.wmu.Unlock()
				if p.opts.onCloseWrite != nil {
					p.opts.onCloseWrite()
				}
				w.release()
				w = nil
			}
			p.mu.Lock()
			again := !p.terminated && p.qhead < len(p.queue) // put back by a dying worker
			p.mu.Unlock()
			if again {
				continue
			}
			return
		}
		if w != nil && !w.isDone() && p.give(w, cs, &scratch) {
			continue
		}
		// The worker died or retired: cs go to a fresh one.
		if w != nil {
			w.release()
		}
		var err error
		if w, err = p.startWorker(); err != nil {
			for _, c := range cs {
				c.failRest(fmt.Errorf("pool: starting a worker: %w", err))
			}
			continue
		}
		p.mu.Lock()
		p.workers[i] = w
		terminated := p.terminated
		p.mu.Unlock()
		if terminated {
			w.proc.Kill()
			for _, c := range cs {
				c.failRest(ErrClosed)
			}
			continue
		}
		<-w.tokens // a fresh worker has them all
		if !p.give(w, cs, &scratch) {
			for _, c := range cs {
				c.failRest(fmt.Errorf("pool: worker %s exited at once", w.name))
			}
		}
	}
}

// isDone reports whether the worker has exited or may be given no more.
func (w *worker) isDone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dead || w.retiring
}

// dispatch writes chunk c to worker w; false when w can take no more (it
// died or retired), true when c is settled: given to w, or dropped because
// its call ended, or failed because it cannot be encoded.
func (p *Pool) dispatch(w *worker, c *chunk) bool {
	cl := c.call
	cl.mu.Lock()
	failed := false
	defer func() {
		cl.mu.Unlock()
		if failed {
			cl.complete(c)
		}
	}()
	if cl.cancelled {
		w.tokens <- struct{}{}
		return true
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	c.one[0] = c
	c.rec = record{chunks: c.one[:], n: c.n}
	if !p.enlist(w, &c.rec) {
		return false
	}
	h := header{kind: c.ops.taskKind(), count: uint32(c.n), seq: c.rec.seq, word: c.ops.funcID()}
	if size := c.ops.rawInputBytes(); size >= 0 {
		if hdrSize+size > p.opts.maxRecord() {
			failed = p.undispatch(w, c, fmt.Errorf("%w: a chunk of %d bytes, over the pool's limit of %d (use a smaller Chunksize)", ErrTooLarge, size, p.opts.maxRecord()-hdrSize))
			return true
		}
		buf, err := w.tasks.Reserve(w.ctx, hdrSize+size)
		if err != nil {
			w.writeFailed() // the monitor settles c
			return true
		}
		putHeader(buf, h)
		c.ops.appendInputs(buf[hdrSize:hdrSize])
		w.tasks.Commit()
		return true
	}
	cl.scratch = append(cl.scratch[:0], make([]byte, hdrSize)...)
	var err error
	if cl.scratch, err = c.ops.appendInputs(cl.scratch); err != nil {
		failed = p.undispatch(w, c, err)
		return true
	}
	if len(cl.scratch) > p.opts.maxRecord() {
		failed = p.undispatch(w, c, fmt.Errorf("%w: a chunk of %d bytes, over the pool's limit of %d (use a smaller Chunksize)", ErrTooLarge, len(cl.scratch)-hdrSize, p.opts.maxRecord()-hdrSize))
		return true
	}
	putHeader(cl.scratch, h)
	if w.tasks.Write(w.ctx, cl.scratch) != nil {
		w.writeFailed() // the monitor settles c
	}
	return true
}

// enlist gives r its sequence number and appends it to the records w
// holds, under w.wmu (the order of w.inflight is the order of the records
// in the ring); false, and the token given back, when w can take no more.
func (p *Pool) enlist(w *worker, r *record) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead || w.retiring {
		w.tokens <- struct{}{}
		return false
	}
	r.seq = p.seq.Add(1)
	w.inflight = append(w.inflight, r)
	w.dispatched++
	if p.opts.maxTasks > 0 && w.dispatched >= p.opts.maxTasks {
		w.retiring = true
	}
	return true
}

// undispatch takes back a chunk that could not be written and fails its
// tasks, reporting whether it did (the caller completes it once it has let
// go of c.call.mu, which is held); false when the worker died meanwhile and
// its monitor settles the chunk.
func (p *Pool) undispatch(w *worker, c *chunk, err error) bool {
	w.mu.Lock()
	if !w.dead && len(w.inflight) > 0 && w.inflight[len(w.inflight)-1] == &c.rec {
		w.inflight = w.inflight[:len(w.inflight)-1]
		w.dispatched--
		w.retiring = p.opts.maxTasks > 0 && w.dispatched >= p.opts.maxTasks
		w.mu.Unlock()
		w.tokens <- struct{}{}
		c.failRestLocked(err)
		return true
	}
	w.mu.Unlock()
	return false
}

// dispatchBatch writes chunks cs (several, see take) to worker w as one
// record; false when w can take no more (it died or retired), true when
// they are settled: given to w, or dropped because their call ended.
// scratch is the caller's buffer: the inputs are copied there under each
// call's mutex, before w's write mutex is taken (dispatch takes them in
// the other order).
func (p *Pool) dispatchBatch(w *worker, cs []*chunk, scratch *[]byte) bool {
	buf := append((*scratch)[:0], make([]byte, hdrSize)...)
	var taken []*chunk
	n := 0
	for _, c := range cs {
		cl := c.call
		cl.mu.Lock()
		if !cl.cancelled {
			buf, _ = c.ops.appendInputs(buf) // raw inputs (see batchable): no error
			taken = append(taken, c)
			n += c.n
		}
		cl.mu.Unlock()
	}
	*scratch = buf
	if len(taken) == 0 {
		w.tokens <- struct{}{}
		return true
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	r := &record{chunks: taken, n: n}
	if !p.enlist(w, r) {
		return false
	}
	putHeader(buf, header{kind: recTask, count: uint32(n), seq: r.seq, word: taken[0].ops.funcID()})
	if w.tasks.Write(w.ctx, buf) != nil {
		w.writeFailed() // the monitor settles the chunks
	}
	return true
}

// writeFailed handles a write to w's tasks ring that failed, leaving a
// record enlisted that w will never read. The worker died (ErrPeerDead,
// or w.ctx ended with its exit), or its ring is corrupt (ErrCorrupt)
// while it may still run, idle: then nothing would ever settle that
// record, so the worker is not trusted further and its exit settles what
// it holds, as the reader does with a corrupt results ring (a kill does
// nothing to a process that has exited).
func (w *worker) writeFailed() {
	if w.ctx.Err() == nil {
		w.proc.Kill()
	}
}

// give gives the chunks that take returned to w: see dispatch and
// dispatchBatch.
func (p *Pool) give(w *worker, cs []*chunk, scratch *[]byte) bool {
	if len(cs) == 1 {
		return p.dispatch(w, cs[0])
	}
	return p.dispatchBatch(w, cs, scratch)
}

// Batching. A slot whose worker has room takes the chunk at the head of
// the queue and, when it is a Submit's, the Submits of the same function
// with raw inputs queued behind it, and writes them as one record: one
// ring write and one wake of the worker, one result record back, instead
// of one each. The batch takes at most its share of what is queued (the
// queue over the processes), so that every worker gets some, and at most
// batchTasks, which with MaxInFlight bounds what a dead worker takes down.
// The chunks of Map and Imap travel one per record, as sized (Chunksize).
// With MaxTasksPerChild a record is one chunk, which a worker counts as
// Python's does.
const (
	batchChunkBytes = 4 << 10 // the largest input batched (it is copied twice)
	batchTasks      = 256     // the most Submits in a record
)

// batchable reports whether c may travel in a record with other chunks.
func batchable(c *chunk) bool {
	size := c.ops.rawInputBytes()
	return c.single && c.ops.taskKind() == recTask && size >= 0 && size <= batchChunkBytes
}

// Close stops the pool taking new calls (Python's close): the calls under
// way finish (an Imap iterated before Close, to its last input), then the
// workers exit. Join waits for that.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		if p.underWay == 0 { // else the last Imap's end closes it
			close(p.closedCh)
		}
	}
	return nil
}

// Terminate stops the workers at once (SIGKILL) and fails every task not
// finished with ErrClosed (Python's terminate). It returns when the workers
// have exited; called from an OnDone callback on one of the pool's own
// goroutines (a worker's result reader), which that wait would wait for,
// it returns without waiting (Join waits for their exit).
func (p *Pool) Terminate() error {
	p.mu.Lock()
	if p.terminated {
		p.mu.Unlock()
		p.awaitSlots()
		return nil
	}
	p.terminated = true
	if !p.closed {
		p.closed = true
		if p.underWay == 0 { // else the last Imap's end closes it
			close(p.closedCh)
		}
	}
	close(p.stop)
	queued := p.queue[p.qhead:]
	p.queue, p.qhead = nil, 0
	ws := append([]*worker(nil), p.workers...)
	p.mu.Unlock()
	// The kills first: failing the queued tasks runs their OnDone
	// callbacks here, and a Terminate in one waits for the workers' exit,
	// which after the kills comes (TestTerminateInCallbackOfQueued).
	for _, w := range ws {
		if w != nil {
			w.proc.Kill()
		}
	}
	for _, c := range queued {
		c.failRest(ErrClosed)
	}
	p.awaitSlots()
	return nil
}

// awaitSlots waits until every slot has finished, unless the caller is one
// of the pool's own goroutines (an OnDone callback's), which the slots wait
// for.
func (p *Pool) awaitSlots() {
	if _, ours := p.own.Load(goid.ID()); ours {
		return
	}
	<-p.slotsEnd
}

// goroutine runs f on a goroutine of the pool's own (see own).
func (p *Pool) goroutine(f func()) {
	go func() {
		id := goid.ID()
		p.own.Store(id, struct{}{})
		defer p.own.Delete(id)
		f()
	}()
}

// Join waits until the workers have exited after Close or Terminate
// (Python's join), or until ctx ends. Join before either panics. After
// Close the workers exit once every Imap iterated before it has ended:
// an Imap submits its inputs as its results are read, so a Join inside
// the loop over an Imap of the same pool waits until its ctx ends (Python
// feeds imap's inputs from a thread of its own; here the loop is the
// feeder). Terminate ends the Imaps too. Join must not be called from an
// OnDone callback: the workers' exit waits for the callback to return.
func (p *Pool) Join(ctx context.Context) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		panic("pool: Join before Close or Terminate")
	}
	select {
	case <-p.slotsEnd:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
