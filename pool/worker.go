package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
)

// Initializer is a function each worker runs once when it starts, before
// its first task (Python's Pool initializer). Register it at package
// initialisation, as a Func.
type Initializer struct {
	name string
	fn   func(ctx context.Context) error
}

var (
	initMu       sync.Mutex
	initializers = map[string]*Initializer{}
)

// RegisterInitializer registers fn as an initializer called name (see
// WithInitializer). A worker whose initializer fails exits; the tasks given
// to it fail with ErrWorkerDied, the error's Stderr saying why.
// Registering one name twice panics.
func RegisterInitializer(name string, fn func(ctx context.Context) error) *Initializer {
	if name == "" || fn == nil {
		panic("pool: RegisterInitializer needs a name and a function")
	}
	initMu.Lock()
	defer initMu.Unlock()
	if _, dup := initializers[name]; dup {
		panic("pool: initializer " + strconv.Quote(name) + " registered twice")
	}
	in := &Initializer{name: name, fn: fn}
	initializers[name] = in
	return in
}

// workerArgs travel to a worker process (encoding/gob, the rings as
// handles).
type workerArgs struct {
	Tasks, Results *ringbuf.SPSC
	Init           string
	MaxTasks       int // chunks; 0: no limit
	MaxRecord      int // the largest record either side writes
}

// workerMain is the worker process: every pool worker runs it.
var workerMain = process.Register("shmkit.pool.worker", runWorker)

// workerState is a worker's side of its rings.
type workerState struct {
	tasks, results *ringbuf.SPSC
	maxRecord      int
	scratch        []byte
	released       bool
	shared         sharedCache
}

// release frees the task record being handled, once.
func (ws *workerState) release() {
	if !ws.released {
		ws.tasks.Discard()
		ws.released = true
	}
}

func runWorker(ctx context.Context, a workerArgs) error {
	ws := &workerState{tasks: a.Tasks, results: a.Results, maxRecord: a.MaxRecord}
	defer ws.shared.close()
	if a.Init != "" {
		initMu.Lock()
		in := initializers[a.Init]
		initMu.Unlock()
		if in == nil {
			return fmt.Errorf("pool: initializer %q is not registered in this program", a.Init)
		}
		if err := in.fn(ctx); err != nil {
			return fmt.Errorf("pool: initializer %s: %w", a.Init, err)
		}
	}
	var ready [hdrSize]byte
	putHeader(ready[:], header{kind: resReady})
	if err := ws.results.Write(ctx, ready[:]); err != nil {
		return err
	}
	for done := 0; a.MaxTasks == 0 || done < a.MaxTasks; done++ {
		rec, err := ws.tasks.Peek(ctx)
		if errors.Is(err, io.EOF) {
			return nil // the pool closed: no more tasks
		}
		if err != nil {
			return err
		}
		ws.released = false
		h, err := readHeader(rec)
		if err != nil {
			return err
		}
		e := lookup(h.word)
		switch {
		case h.kind == recTask && e != nil:
			err = e.runChunk(ctx, ws, h, rec[hdrSize:])
		case h.kind == recShared && e != nil:
			var st sharedTask
			if st, err = decodeSharedTask(rec[hdrSize:]); err == nil {
				ws.release()
				err = e.runShared(ctx, ws, h, st)
			}
		case h.kind == recTask || h.kind == recShared:
			ws.release()
			msg := fmt.Sprintf("%v: id %#x (the worker's program differs from the pool's?)", ErrNotRegistered, h.word)
			err = ws.failAll(ctx, h.seq, int(h.count), itemNotRegistered, msg)
		default:
			err = fmt.Errorf("pool: task record of unknown kind %d", h.kind)
		}
		ws.release()
		if err != nil {
			return err
		}
	}
	return nil
}

// failAll answers every task of a chunk with the same failure (status and
// message), in the records writeItems would write for those failures. n
// comes from the task record's header, which the payload does not bound
// (a MapShared chunk's is an index range of any length): the items are
// made a record at a time in the ring, never a failure per task at once,
// so that a corrupt count of 2^32-1 costs no more memory than a record
// (the parent refuses the answers past its chunk and kills the worker),
// and a large chunk that fails no more either.
func (ws *workerState) failAll(ctx context.Context, seq uint64, n int, status byte, msg string) error {
	item := appendFailure(nil, itemFailure{status: status, msg: msg})
	if len(item) > ws.maxRecord-hdrSize { // as writeItems answers a result that alone passes the limit
		item = appendFailure(nil, itemFailure{status: itemTooLarge, msg: fmt.Sprintf("%v: a result of %d bytes, over the pool's limit of %d", ErrTooLarge, len(item), ws.maxRecord-hdrSize)})
	}
	per := max(1, (ws.maxRecord-hdrSize)/len(item))
	for first := 0; first < n; {
		k := min(per, n-first)
		buf, err := ws.results.Reserve(ctx, hdrSize+k*len(item))
		if err != nil {
			return err
		}
		putHeader(buf, header{kind: resItems, count: uint32(k), seq: seq, word: uint64(first)})
		for j := range k {
			copy(buf[hdrSize+j*len(item):], item)
		}
		ws.results.Commit()
		first += k
	}
	return nil
}

// writeRaw writes the raw results of chunk seq, in as many records as the
// record limit needs.
func (ws *workerState) writeRaw(ctx context.Context, seq uint64, raw []byte, size int) error {
	per := max(1, (ws.maxRecord-hdrSize)/size)
	for first := 0; len(raw) > 0; {
		k := min(per, len(raw)/size)
		buf, err := ws.results.Reserve(ctx, hdrSize+k*size)
		if err != nil {
			return err
		}
		putHeader(buf, header{kind: resRaw, count: uint32(k), seq: seq, word: uint64(first)})
		copy(buf[hdrSize:], raw[:k*size])
		ws.results.Commit()
		raw = raw[k*size:]
		first += k
	}
	return nil
}

// writeItems writes n itemised results of chunk seq: the failures in fails
// (sorted by index), the others encoded by enc. A record ends before it
// would pass the record limit; a result that alone passes it is answered
// with ErrTooLarge.
func (ws *workerState) writeItems(ctx context.Context, seq uint64, n int, fails []itemFailure, enc func([]byte, int) ([]byte, error)) error {
	first, count := 0, 0
	ws.scratch = append(ws.scratch[:0], make([]byte, hdrSize)...)
	flush := func() error {
		if count == 0 {
			return nil
		}
		putHeader(ws.scratch, header{kind: resItems, count: uint32(count), seq: seq, word: uint64(first)})
		if err := ws.results.Write(ctx, ws.scratch); err != nil {
			return err
		}
		first += count
		count = 0
		ws.scratch = ws.scratch[:hdrSize]
		return nil
	}
	for i := range n {
		mark := len(ws.scratch)
		if len(fails) > 0 && fails[0].i == i {
			ws.scratch = appendFailure(ws.scratch, fails[0])
			fails = fails[1:]
		} else {
			ws.scratch = append(ws.scratch, itemOK, 0, 0, 0, 0)
			var err error
			if ws.scratch, err = enc(ws.scratch, i); err != nil {
				ws.scratch = appendFailure(ws.scratch[:mark], itemFailure{status: itemErr, msg: fmt.Sprintf("pool: encoding the result: %v", err)})
			} else {
				binary.LittleEndian.PutUint32(ws.scratch[mark+1:], uint32(len(ws.scratch)-mark-itemHdrSize))
			}
		}
		if len(ws.scratch)-mark > ws.maxRecord-hdrSize {
			ws.scratch = appendFailure(ws.scratch[:mark], itemFailure{status: itemTooLarge, msg: fmt.Sprintf("%v: a result of %d bytes, over the pool's limit of %d", ErrTooLarge, len(ws.scratch)-mark, ws.maxRecord-hdrSize)})
		}
		if len(ws.scratch) > ws.maxRecord {
			item := append([]byte(nil), ws.scratch[mark:]...)
			ws.scratch = ws.scratch[:mark]
			if err := flush(); err != nil {
				return err
			}
			ws.scratch = append(ws.scratch, item...)
		}
		count++
	}
	return flush()
}

func appendFailure(dst []byte, f itemFailure) []byte {
	if f.status != itemPanic {
		return appendItem(dst, f.status, []byte(f.msg))
	}
	p := binary.LittleEndian.AppendUint32(nil, uint32(len(f.msg)))
	p = append(append(p, f.msg...), f.stack...)
	return appendItem(dst, itemPanic, p)
}
