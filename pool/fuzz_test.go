package pool

import (
	"context"
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
	f.Fuzz(func(t *testing.T, rec []byte) {
		w := &worker{name: "w", proc: &process.Process{}}
		for _, fn := range []func() chunkOps{
			func() chunkOps {
				return &tchunk[int, string]{f: fuzzItoa, in: make([]int, 3), out: make([]string, 3)}
			},
			func() chunkOps {
				return &tchunk[int64, int64]{f: double, in: make([]int64, 3), out: make([]int64, 3)}
			},
			func() chunkOps { return &schunk[int64, int64]{f: double} },
		} {
			ops := fn()
			var c *chunk
			switch t := ops.(type) {
			case *tchunk[int, string]:
				t.init(&call{})
				c = &t.chunk
			case *tchunk[int64, int64]:
				t.init(&call{})
				c = &t.chunk
			case *schunk[int64, int64]:
				t.chunk = chunk{call: &call{}, ops: t, n: 3}
				c = &t.chunk
			}
			h, err := readHeader(rec)
			if err != nil {
				continue
			}
			c.deliver(w, h, rec[hdrSize:])
			if c.got > c.n {
				t.Fatalf("%d results for a chunk of %d", c.got, c.n)
			}
		}
		decodeSharedTask(rec)
	})
}

var double = Register("pool.fuzz.double", func(ctx context.Context, x int64) (int64, error) { return 2 * x, nil })
