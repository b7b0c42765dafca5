package pool

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"
	"unsafe"

	"github.com/shmkit/shmkit/codec"
)

// Func is a task function registered by name, runnable by any pool of the
// program: Map, Imap, ImapUnordered, Starmap, Submit and Apply take it.
// In and Out travel with codec.Default: a fixed-size, pointer-free type as
// its raw bytes (no codec call, no allocation), anything else with its
// encoding (gob for most types). A Func is safe for concurrent use.
type Func[In, Out any] struct {
	name    string
	id      uint64
	fn      func(context.Context, In) (Out, error)
	batch   func(context.Context, []In, []Out) error // RegisterBatch: instead of fn
	inC     codec.Codec[In]
	outC    codec.Codec[Out]
	inSize  int // > 0: In travels as raw bytes, inSize each
	outSize int // > 0: Out travels as raw bytes

	// Worker side: a worker runs one chunk at a time, so these are reused
	// without a lock.
	ins  []In
	outs []Out
	errs []itemFailure
}

// itemFailure is a task of a chunk that failed in the worker.
type itemFailure struct {
	i      int
	status byte
	msg    string
	stack  []byte
}

// entry is a registered function seen without its types: what a worker
// needs to run a chunk.
type entry interface {
	funcName() string
	runChunk(ctx context.Context, ws *workerState, h header, payload []byte) error
	runShared(ctx context.Context, ws *workerState, h header, st sharedTask) error
}

var (
	registryMu sync.Mutex
	registry   = map[uint64]entry{}
)

// Register makes fn runnable by pools under name. Call it at package
// initialisation (a package-level var), so that the parent and every worker,
// which is this program started again, register it: workers find functions
// by name. Registering one name twice panics.
//
// fn runs in a worker process, one task at a time per worker. Its error
// reaches the caller as a *TaskError carrying the message; a panic becomes
// the task's error, with the stack, and the worker goes on.
func Register[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Func[In, Out] {
	if name == "" || fn == nil {
		panic("pool: Register needs a name and a function")
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	f := &Func[In, Out]{
		name: name, id: h.Sum64(), fn: fn,
		inC: codec.Default[In](), outC: codec.Default[Out](),
		inSize: rawSize[In](), outSize: rawSize[Out](),
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if old, dup := registry[f.id]; dup {
		panic("pool: function " + strconv.Quote(name) + " registered twice (or its id collides with " + strconv.Quote(old.funcName()) + ")")
	}
	registry[f.id] = f
	return f
}

// RegisterBatch registers a function that runs a whole chunk of tasks in
// one call, writing out[i] for in[i]: the form for tasks so small that a
// call per task is most of their cost (with MapShared, a batch function
// over int64 runs near memory bandwidth). It is used as a Func made by
// Register is; an error or a panic fails every task of the chunk.
func RegisterBatch[In, Out any](name string, fn func(ctx context.Context, in []In, out []Out) error) *Func[In, Out] {
	if fn == nil {
		panic("pool: RegisterBatch needs a function")
	}
	f := Register(name, func(context.Context, In) (Out, error) {
		panic("pool: a batch function called per task")
	})
	f.batch = fn
	return f
}

// Name returns the name fn was registered under.
func (f *Func[In, Out]) Name() string { return f.name }

func (f *Func[In, Out]) funcName() string { return f.name }

func lookup(id uint64) entry {
	registryMu.Lock()
	defer registryMu.Unlock()
	return registry[id]
}

// rawSize returns the size of T when T may travel as its raw bytes: fixed
// size, pointer-free, not empty, and without a bool (whose byte a peer could
// set to a value Go's compiler does not expect; such a T goes through
// codec.Binary, which checks). 0 otherwise.
func rawSize[T any]() int {
	if _, err := codec.NewBinary[T](); err != nil {
		return 0
	}
	t := reflect.TypeFor[T]()
	if t.Size() == 0 || hasBool(t) {
		return 0
	}
	return int(t.Size())
}

func hasBool(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool:
		return true
	case reflect.Array:
		return hasBool(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasBool(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// bytesOf views s as its bytes (T fixed-size and pointer-free).
func bytesOf[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}

// appendInputs appends the task payload of ins to dst.
func (f *Func[In, Out]) appendInputs(dst []byte, ins []In) ([]byte, error) {
	if f.inSize > 0 {
		return append(dst, bytesOf(ins)...), nil
	}
	for i := range ins {
		at := len(dst)
		dst = append(dst, itemOK, 0, 0, 0, 0)
		var err error
		if dst, err = f.inC.Append(dst, &ins[i]); err != nil {
			return dst, fmt.Errorf("pool: encoding the input of %s: %w", f.name, err)
		}
		binary.LittleEndian.PutUint32(dst[at+1:], uint32(len(dst)-at-itemHdrSize))
	}
	return dst, nil
}

// decodeInputs fills f.ins from a task payload of n inputs.
// The count comes from the record's header: it is checked against the
// payload before the inputs are sized by it, so that a corrupt count is
// an error, not an allocation of up to 2^32 inputs.
func (f *Func[In, Out]) decodeInputs(payload []byte, n int) error {
	if f.inSize > 0 {
		if uint64(len(payload)) != uint64(n)*uint64(f.inSize) {
			return fmt.Errorf("pool: task of %d inputs of %d bytes carries %d bytes", n, f.inSize, len(payload))
		}
		f.ins = grow(f.ins, n)
		copy(bytesOf(f.ins), payload)
		return nil
	}
	if n > len(payload)/itemHdrSize { // every item starts with its header
		return fmt.Errorf("pool: task of %d inputs carries %d bytes", n, len(payload))
	}
	f.ins = grow(f.ins, n)
	for i := range n {
		_, p, rest, err := nextItem(payload)
		if err != nil {
			return err
		}
		var zero In
		f.ins[i] = zero
		if err := f.inC.Decode(p, &f.ins[i]); err != nil {
			return fmt.Errorf("pool: decoding an input of %s: %w", f.name, err)
		}
		payload = rest
	}
	return nil
}

// runRange runs fn on every input, writing the results of those that
// succeed to outs and recording the others in f.errs. One deferred
// recover covers a run of tasks, not each task: a panic ends the run, is
// recorded, and the next run starts after the task that panicked.
func (f *Func[In, Out]) runRange(ctx context.Context, ins []In, outs []Out) {
	f.errs = f.errs[:0]
	if f.batch != nil {
		f.runBatch(ctx, ins, outs)
		return
	}
	for i := 0; i < len(ins); {
		i = f.runFrom(ctx, ins, outs, i)
	}
}

func (f *Func[In, Out]) runFrom(ctx context.Context, ins []In, outs []Out, start int) (next int) {
	defer func() {
		if r := recover(); r != nil {
			f.errs = append(f.errs, itemFailure{i: next, status: itemPanic, msg: fmt.Sprint(r), stack: debug.Stack()})
			next++
		}
	}()
	for next = start; next < len(ins); next++ {
		out, err := f.fn(ctx, ins[next])
		if err != nil {
			f.errs = append(f.errs, itemFailure{i: next, status: itemErr, msg: err.Error()})
			continue
		}
		outs[next] = out
	}
	return next
}

// runBatch runs a batch function over the chunk; its error or panic is
// every task's.
func (f *Func[In, Out]) runBatch(ctx context.Context, ins []In, outs []Out) {
	var fail *itemFailure
	func() {
		defer func() {
			if r := recover(); r != nil {
				fail = &itemFailure{status: itemPanic, msg: fmt.Sprint(r), stack: debug.Stack()}
			}
		}()
		if err := f.batch(ctx, ins, outs); err != nil {
			fail = &itemFailure{status: itemErr, msg: err.Error()}
		}
	}()
	if fail == nil {
		return
	}
	for i := range ins {
		fail.i = i
		f.errs = append(f.errs, *fail)
	}
}

// runChunk runs the tasks of one chunk in the worker and writes their
// results: raw when all succeeded and Out is raw and fits a record,
// itemised otherwise.
func (f *Func[In, Out]) runChunk(ctx context.Context, ws *workerState, h header, payload []byte) error {
	n := int(h.count)
	if err := f.decodeInputs(payload, n); err != nil {
		return err
	}
	ws.release() // inputs copied out: the parent may reuse the space
	f.outs = grow(f.outs, n)
	f.runRange(ctx, f.ins[:n], f.outs[:n])
	// A raw result larger than a record goes the itemised way, which
	// answers it with ErrTooLarge: written raw, it would not fit the ring.
	if len(f.errs) == 0 && f.outSize > 0 && f.outSize <= ws.maxRecord-hdrSize {
		return ws.writeRaw(ctx, h.seq, bytesOf(f.outs[:n]), f.outSize)
	}
	return ws.writeItems(ctx, h.seq, n, f.errs, func(dst []byte, i int) ([]byte, error) {
		return f.outC.Append(dst, &f.outs[i])
	})
}

// deliverRaw copies count raw results into out.
func (f *Func[In, Out]) deliverRaw(out []Out, payload []byte) error {
	if len(payload) != len(out)*f.outSize || f.outSize == 0 {
		return fmt.Errorf("pool: raw results of %d bytes for %d outputs of %d bytes", len(payload), len(out), f.outSize)
	}
	copy(bytesOf(out), payload)
	return nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
