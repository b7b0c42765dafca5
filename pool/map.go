package pool

import (
	"context"
	"iter"
)

// Map runs f on every input in the pool's workers and returns the results
// in input order (Python's Pool.map). The inputs travel in chunks
// (Chunksize). When some tasks fail, Map returns every result it has (the
// zero Out for a failed task) and a *MapError with one error per input
// (nil where the task succeeded); a task
// whose worker died has an error matching ErrWorkerDied, and the other
// tasks still run. When ctx ends, Map withdraws the tasks not yet given to
// a worker and returns nil and ctx's error at once; the tasks running
// finish, their results dropped.
func Map[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], in []In, opts ...CallOption) ([]Out, error) {
	out := make([]Out, len(in))
	if err := mapInto(ctx, p, f, in, out, opts); err != nil {
		if _, ok := err.(*MapError); ok {
			return out, err
		}
		return nil, err
	}
	return out, nil
}

// Starmap is Map for a function of several arguments (Python's
// Pool.starmap): in Go they travel as one struct, whose fields the function
// takes apart.
func Starmap[Args, Out any](ctx context.Context, p *Pool, f *Func[Args, Out], args []Args, opts ...CallOption) ([]Out, error) {
	return Map(ctx, p, f, args, opts...)
}

// mapChunksize is Python's: four chunks per worker, bounded by what a
// record holds. A size asked for is bounded by the n inputs (n > 0), so
// that counting the chunks does not overflow.
func mapChunksize[In, Out any](p *Pool, f *Func[In, Out], n int, o callOptions) int {
	if o.chunksize > 0 {
		return min(o.chunksize, n)
	}
	size := (n + 4*p.opts.processes - 1) / (4 * p.opts.processes)
	return max(1, min(size, f.maxChunk(p)))
}

// maxChunk bounds a chunk so that its raw inputs and outputs fit a record;
// 64 tasks for a type that travels encoded.
func (f *Func[In, Out]) maxChunk(p *Pool) int {
	size := max(f.inSize, f.outSize)
	if f.inSize == 0 {
		return 64
	}
	return max(1, (p.opts.maxRecord()-hdrSize)/size)
}

func mapInto[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], in []In, out []Out, opts []CallOption) error {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(in) == 0 {
		return p.emptyCall(ctx)
	}
	size := mapChunksize(p, f, len(in), o)
	n := (len(in) + size - 1) / size
	cl := &call{completed: make(chan *chunk, n)}
	chunks := make([]tchunk[In, Out], n)
	ptrs := make([]*chunk, n)
	for i := range chunks {
		lo, hi := i*size, min((i+1)*size, len(in))
		chunks[i].f, chunks[i].in, chunks[i].out = f, in[lo:hi], out[lo:hi]
		chunks[i].init(cl, lo)
		ptrs[i] = &chunks[i].chunk
	}
	if err := p.submit(ptrs...); err != nil {
		return err
	}
	for range n {
		select {
		case <-cl.completed:
		case <-ctx.Done():
			cl.cancel()
			return ctx.Err()
		}
	}
	var me *MapError
	for i := range chunks {
		if len(chunks[i].errs) == 0 {
			continue
		}
		if me == nil {
			me = &MapError{Errs: make([]error, len(in))}
		}
		for j, err := range chunks[i].errs {
			if err != nil {
				me.Errs[i*size+j] = err
				me.Failed++
			}
		}
	}
	if me != nil {
		return me
	}
	return nil
}

// Imap runs f on the inputs seq yields and yields the results in input
// order (Python's Pool.imap), lazily: it reads inputs only as fast as
// results are taken, keeping a bounded number of chunks under way, so that
// an input of any length runs in bounded memory. A failed task yields the
// zero Out and its error (matching ErrWorkerDied when its worker died), and
// the sequence goes on. When ctx ends the sequence yields ctx's error once
// and stops; when the loop stops early the tasks not yet given to a worker
// are withdrawn.
func Imap[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], seq iter.Seq[In], opts ...CallOption) iter.Seq2[Out, error] {
	return imap(ctx, p, f, seq, true, opts)
}

// ImapUnordered is Imap yielding each chunk's results as soon as it
// finishes (Python's Pool.imap_unordered); within a chunk they keep their
// order.
func ImapUnordered[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], seq iter.Seq[In], opts ...CallOption) iter.Seq2[Out, error] {
	return imap(ctx, p, f, seq, false, opts)
}

func imap[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], seq iter.Seq[In], ordered bool, opts []CallOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		o := callOptions{chunksize: 1}
		for _, opt := range opts {
			opt(&o)
		}
		if !p.begin() {
			var zero Out
			yield(zero, ErrClosed)
			return
		}
		defer p.end()
		size := max(1, o.chunksize)
		window := 2 * p.opts.processes * p.opts.inflight
		cl := &call{completed: make(chan *chunk, window)}
		defer cl.cancel()
		next, stop := iter.Pull(seq)
		defer stop()
		var (
			free    []*tchunk[In, Out] // chunks whose results were yielded
			pending []*tchunk[In, Out] // submitted, in input order
			done    = map[*chunk]bool{}
			inputs  = true
			zero    Out
			pos     int // the index of the next chunk's first input
		)
		for {
			for inputs && len(pending) < window {
				var t *tchunk[In, Out]
				if k := len(free); k > 0 {
					t, free = free[k-1], free[:k-1]
					t.in = t.in[:0]
				} else {
					// Room for the inputs as they come, not for size
					// of them: a size of any length means one chunk of
					// what the sequence holds, as in Python.
					t = &tchunk[In, Out]{f: f, in: make([]In, 0, min(size, 1024))}
				}
				for len(t.in) < size {
					v, ok := next()
					if !ok {
						inputs = false
						break
					}
					t.in = append(t.in, v)
				}
				if len(t.in) == 0 {
					break
				}
				t.out = grow(t.out, len(t.in))
				t.init(cl, pos)
				pos += len(t.in)
				if err := p.submitAs(true, &t.chunk); err != nil {
					yield(zero, err)
					return
				}
				pending = append(pending, t)
			}
			if len(pending) == 0 {
				return
			}
			var t *tchunk[In, Out]
			for t == nil {
				if ordered && done[&pending[0].chunk] {
					t = pending[0]
					delete(done, &t.chunk)
					pending = pending[1:]
					break
				}
				select {
				case c := <-cl.completed:
					if !ordered {
						t = c.ops.(*tchunk[In, Out])
						removeChunk(&pending, t)
					} else {
						done[c] = true
					}
				case <-ctx.Done():
					yield(zero, ctx.Err())
					return
				}
			}
			for i := range t.n {
				if !yield(t.out[i], t.err(i)) {
					return
				}
			}
			clear(t.out)
			free = append(free, t)
		}
	}
}

func removeChunk[T comparable](s *[]T, t T) {
	for i, x := range *s {
		if x == t {
			*s = append((*s)[:i], (*s)[i+1:]...)
			return
		}
	}
}
