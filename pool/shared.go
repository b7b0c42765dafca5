package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/fdexport"
	"github.com/shmkit/shmkit/shm"
	"golang.org/x/sys/unix"
)

// populate faults in the pages of the segments a worker has just attached,
// one madvise each instead of a fault per page: a chunk of MapShared may go
// to any worker, so each would otherwise fault on every page in turn. It is
// only a hint (kernels before 5.14 refuse it, which is harmless).
func populate(segs ...*shm.Segment) {
	for i, s := range segs {
		if i > 0 && s.Bytes() != nil && segs[0].Bytes() != nil && &s.Bytes()[0] == &segs[0].Bytes()[0] {
			continue // both arrays in one segment
		}
		if b := s.Bytes(); len(b) > 0 && !s.ReadOnly() {
			unix.Madvise(b, unix.MADV_POPULATE_WRITE)
		}
	}
}

// MapShared runs f on every element of in and writes each result to the
// same index of out, both arrays in shared memory (a zero-copy Map): a
// worker is sent an index range and the arrays' handles, reads its inputs
// and writes its outputs in place, and answers with one short record; no
// input or output is encoded or copied through the rings. In and Out are
// fixed-size and pointer-free, as arrays require; the arrays may be
// anonymous (array.NewRaw) or in a named segment (array.CreateRaw).
// len(out) must be at least len(in). The workers, running already, open
// an anonymous array's memory through /proc/PID/fd of this process, which
// the kernel allows a process of the same user while this process is
// dumpable (the default); where it refuses, every task fails with the
// reason, and arrays in a named segment do instead. Chunks default to four
// per worker. Failures and cancellation are reported as by Map, and a task
// that failed has the zero Out in its element of out, as in Map's output,
// whatever the element held before: a worker that died, or an attempt of
// its chunk that ran before its worker died (WithRetries), may have
// written it. Unlike Map's, the results of a cancelled MapShared are not
// dropped: the chunks workers had taken go on writing their elements of
// out after it returns.
//
// out may be in itself, for an update in place. Then a chunk whose worker
// died is not run again (WithRetries), since the worker may have written
// results over the chunk's inputs, which the next attempt would take for
// inputs: its tasks fail with ErrWorkerDied, as without WithRetries.
//
// The worker attaches the segments once per call (or less: it keeps the
// last ones), so MapShared pays off for large arrays of small elements.
func MapShared[In, Out any](ctx context.Context, p *Pool, f *Func[In, Out], in *array.RawArray[In], out *array.RawArray[Out], opts ...CallOption) error {
	n := in.Len()
	if out.Len() < n {
		return fmt.Errorf("pool: MapShared into %d outputs from %d inputs", out.Len(), n)
	}
	// An anonymous array's handle names its descriptor in this process,
	// which the workers, running already, open through /proc.
	var inH, outH []byte
	err := fdexport.RunInPlace(func() (err error) {
		if inH, err = in.GobEncode(); err == nil {
			outH, err = out.GobEncode()
		}
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return p.emptyCall(ctx)
	}
	o := callOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	size := min(o.chunksize, n) // bounded, so that counting the chunks does not overflow
	if size <= 0 {
		size = max(1, (n+4*p.opts.processes-1)/(4*p.opts.processes))
	}
	k := (n + size - 1) / size
	// The same array twice: by its handle, or, where the handles differ
	// (two descriptors of one anonymous segment), by its mapping.
	// (SliceData, not the first byte: an element may have no bytes.)
	inPlace := bytes.Equal(inH, outH) || unsafe.Pointer(unsafe.SliceData(in.Slice())) == unsafe.Pointer(unsafe.SliceData(out.Slice()))
	cl := &call{completed: make(chan *chunk, k)}
	chunks := make([]schunk[In, Out], k)
	ptrs := make([]*chunk, k)
	for i := range chunks {
		c := &chunks[i]
		lo, cn := i*size, min(size, n-i*size)
		c.f, c.inH, c.outH, c.out = f, inH, outH, out.Slice()[lo:lo+cn]
		c.chunk = chunk{call: cl, ops: c, n: cn, lo: lo, noRetry: inPlace}
		ptrs[i] = &c.chunk
	}
	if err := p.submit(ptrs...); err != nil {
		return err
	}
	for range k {
		select {
		case <-cl.completed:
		case <-ctx.Done():
			cl.cancel()
			return ctx.Err()
		}
	}
	var me *MapError
	for i := range chunks {
		for j, err := range chunks[i].errs {
			if err == nil {
				continue
			}
			if me == nil {
				me = &MapError{Errs: make([]error, n)}
			}
			me.Errs[chunks[i].lo+j] = err
			me.Failed++
		}
	}
	if me != nil {
		return me
	}
	return nil
}

// schunk is a chunk of MapShared: an index range of two shared arrays.
type schunk[In, Out any] struct {
	chunk
	f         *Func[In, Out]
	inH, outH []byte
	out       []Out // its range of the caller's out, which fail zeroes
	errs      []error
}

func (c *schunk[In, Out]) funcID() uint64     { return c.f.id }
func (c *schunk[In, Out]) taskKind() uint32   { return recShared }
func (c *schunk[In, Out]) rawInputBytes() int { return -1 }
func (c *schunk[In, Out]) rawResultSize() int { return 0 }

// appendInputs appends the sharedTask payload: [u64 lo][u32 len][input
// handle][u32 len][output handle].
func (c *schunk[In, Out]) appendInputs(dst []byte) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(c.lo))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.inH)))
	dst = append(dst, c.inH...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.outH)))
	return append(dst, c.outH...), nil
}

func (c *schunk[In, Out]) deliverRaw(first, count int, payload []byte) error {
	if len(payload) != 0 {
		return fmt.Errorf("pool: in-place results carry %d bytes", len(payload))
	}
	return nil
}

func (c *schunk[In, Out]) deliverItem(i int, status byte, p []byte, w *worker) error {
	if status == itemOK {
		return nil // written in place
	}
	return deliverFailure(c, i, status, p, w)
}

// fail records task i's error and zeroes its element of out, as Map's
// fail zeroes its output: a worker may have written the element, one that
// died before it answered (a result is in place as soon as its task has
// run), or that of an earlier attempt of the chunk (WithRetries). No
// worker writes the element while fail does: a worker answers once it has
// run its whole range (see runShared), a chunk fails otherwise only once
// its worker has exited or before any worker took it, and it runs again
// (requeue) only once its worker has exited.
func (c *schunk[In, Out]) fail(i int, err error) {
	if len(c.errs) == 0 {
		c.errs = make([]error, c.n)
	}
	c.errs[i] = err
	if i < len(c.out) {
		var zero Out
		c.out[i] = zero
	}
}

// restart forgets the failures recorded so far (see tchunk.restart).
func (c *schunk[In, Out]) restart() { c.errs = nil }

// sharedTask is a decoded recShared payload.
type sharedTask struct {
	lo        int
	inH, outH []byte
}

func decodeSharedTask(b []byte) (sharedTask, error) {
	var st sharedTask
	if len(b) < 12 {
		return st, fmt.Errorf("pool: shared task of %d bytes", len(b))
	}
	lo := binary.LittleEndian.Uint64(b)
	if lo > 1<<48 {
		return st, fmt.Errorf("pool: shared task from index %d", lo)
	}
	st.lo = int(lo)
	b = b[8:]
	for _, h := range []*[]byte{&st.inH, &st.outH} {
		if len(b) < 4 || uint64(binary.LittleEndian.Uint32(b)) > uint64(len(b)-4) {
			return st, fmt.Errorf("pool: truncated shared task")
		}
		n := binary.LittleEndian.Uint32(b)
		*h = append([]byte(nil), b[4:4+n]...)
		b = b[4+n:]
	}
	return st, nil
}

// sharedCache keeps a worker's last attached arrays of MapShared, so that
// the chunks of one call attach once; the next call's arrays replace them.
type sharedCache struct {
	inH, outH []byte
	cells     [2]*cell.Cell
	in, out   any // []In, []Out over the shared memory
}

func (sc *sharedCache) close() {
	for _, c := range sc.cells {
		if c != nil {
			c.Obj.Segment.Close() // drops the attachment decoding made
		}
	}
	*sc = sharedCache{}
}

// sharedArrays returns the elements of the arrays st names, attached.
func sharedArrays[In, Out any](sc *sharedCache, st sharedTask) ([]In, []Out, error) {
	if in, ok := sc.in.([]In); ok && bytes.Equal(sc.inH, st.inH) {
		if out, ok := sc.out.([]Out); ok && bytes.Equal(sc.outH, st.outH) {
			return in, out, nil
		}
	}
	sc.close()
	ci, in, err := cell.DecodeOf[In](st.inH, shm.KindArray, true)
	if err != nil {
		return nil, nil, err
	}
	co, out, err := cell.DecodeOf[Out](st.outH, shm.KindArray, true)
	if err != nil {
		ci.Obj.Segment.Close()
		return nil, nil, err
	}
	*sc = sharedCache{inH: st.inH, outH: st.outH, cells: [2]*cell.Cell{ci, co}, in: in, out: out}
	populate(ci.Obj.Segment, co.Obj.Segment)
	return in, out, nil
}

// runShared runs a MapShared chunk in place.
func (f *Func[In, Out]) runShared(ctx context.Context, ws *workerState, h header, st sharedTask) error {
	n := int(h.count)
	ins, outs, err := sharedArrays[In, Out](&ws.shared, st)
	if err != nil {
		return ws.failAll(ctx, h.seq, n, itemErr, fmt.Sprintf("pool: attaching the arrays of %s: %v", f.name, err))
	}
	if st.lo+n > len(ins) || st.lo+n > len(outs) {
		return fmt.Errorf("pool: shared task %d..%d past arrays of %d and %d", st.lo, st.lo+n, len(ins), len(outs))
	}
	ins, outs = ins[st.lo:st.lo+n], outs[st.lo:st.lo+n]
	f.runRange(ctx, ins, outs)
	if len(f.errs) == 0 {
		var rec [hdrSize]byte
		putHeader(rec[:], header{kind: resRaw, count: uint32(n), seq: h.seq})
		return ws.results.Write(ctx, rec[:])
	}
	return ws.writeItems(ctx, h.seq, n, f.errs, func(dst []byte, i int) ([]byte, error) { return dst, nil })
}
