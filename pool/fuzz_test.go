package pool

import (
	"context"
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/process"
)

var fuzzItoa = Register("pool.fuzz.itoa", func(ctx context.Context, x int) (string, error) { return "", nil })

// FuzzResultRecord feeds the parent's result decoding (what a worker, buggy
// or hostile, writes) arbitrary records: it may refuse them, never panic
// or write outside the chunk.
func FuzzResultRecord(f *testing.F) {
	rec := make([]byte, hdrSize)
	putHeader(rec, header{kind: resItems, count: 2, seq: 1})
	rec = appendItem(rec, itemOK, []byte{3, 4, 0, 2, 0, 1})
	rec = appendFailure(rec, itemFailure{status: itemPanic, msg: "x", stack: []byte("stack")})
	f.Add(rec)
	raw := make([]byte, hdrSize+16)
	putHeader(raw, header{kind: resRaw, count: 2, seq: 1})
	f.Add(raw)
	raw = make([]byte, hdrSize+48)
	putHeader(raw, header{kind: resRaw, count: 6, seq: 1})
	f.Add(raw)
	f.Fuzz(func(t *testing.T, rec []byte) {
		for _, mk := range []func(cl *call, lo int) *chunk{
			func(cl *call, lo int) *chunk {
				t := &tchunk[int, string]{f: fuzzItoa, in: make([]int, 3), out: make([]string, 3)}
				t.init(cl, lo)
				return &t.chunk
			},
			func(cl *call, lo int) *chunk {
				t := &tchunk[int64, int64]{f: double, in: make([]int64, 3), out: make([]int64, 3)}
				t.init(cl, lo)
				return &t.chunk
			},
			func(cl *call, lo int) *chunk {
				t := &schunk[int64, int64]{f: double}
				t.chunk = chunk{call: cl, ops: t, n: 3, lo: lo}
				return &t.chunk
			},
		} {
			// A record of two chunks, as a batch travels.
			cl := &call{completed: make(chan *chunk, 2)}
			a, b := mk(cl, 0), mk(cl, 3)
			r := &record{seq: 1, chunks: []*chunk{a, b}, n: a.n + b.n}
			w := &worker{name: "w", proc: &process.Process{}, tokens: make(chan struct{}, 1), ready: make(chan struct{}), inflight: []*record{r}}
			new(Pool).handle(w, rec)
			if a.got > a.n || b.got > b.n || r.got != a.got+b.got {
				t.Fatalf("results %d and %d for chunks of %d, %d for their record", a.got, b.got, a.n, r.got)
			}
		}
		decodeSharedTask(rec)
	})
}

var double = Register("pool.fuzz.double", func(ctx context.Context, x int64) (int64, error) { return 2 * x, nil })

// TestDecodeInputsCount: a task record whose count its payload cannot
// hold (corrupt, or hostile) is refused before the worker sizes its inputs
// by that count; before, it allocated count inputs first (32 GB for a
// count of 2^32-1 int64) and checked the payload after.
func TestDecodeInputsCount(t *testing.T) {
	const n = 1 << 24 // 128 MB of inputs, were they allocated
	for name, decode := range map[string]func() error{
		"raw":     func() error { return double.decodeInputs(make([]byte, 8), n) },
		"encoded": func() error { return fuzzItoa.decodeInputs(appendItem(nil, itemOK, []byte{3, 4, 0, 2, 0, 1}), n) },
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := decode()
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: a count of %d over a payload of one input was accepted", name, n)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("%s: refusing a count of %d allocated %d bytes (%v)", name, n, grew, err)
		}
	}
}
