package pool_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// wide is a fixed-size result that travels as its raw bytes, and is
// larger than a record of a pool with a 64 KiB buffer.
type wide [40000]byte

var widen = pool.Register("pool_test.widen", func(ctx context.Context, x int64) (wide, error) {
	var w wide
	w[0] = byte(x)
	return w, nil
})

// TestRawResultTooLarge: a raw result larger than a record fails its task
// with a *TaskError saying ErrTooLarge, as an encoded one does, and the
// worker goes on. Before, the worker failed to reserve the record in its
// results ring and exited, so the task failed with ErrWorkerDied, and the
// worker was replaced.
func TestRawResultTooLarge(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.WithBufferSize(64<<10))
	before, err := pool.Apply(ctx, p, pidOf, 0)
	if err != nil {
		t.Fatal(err)
	}
	tooLarge := func(err error) bool {
		var te *pool.TaskError
		return errors.As(err, &te) && strings.HasPrefix(te.Msg, pool.ErrTooLarge.Error())
	}
	if _, err := pool.Apply(ctx, p, widen, 3); !tooLarge(err) {
		t.Fatalf("Apply of a result of %d bytes: %v", len(wide{}), err)
	}
	_, err = pool.Map(ctx, p, widen, []int64{1, 2, 3}, pool.Chunksize(3))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != 3 {
		t.Fatalf("Map of results of %d bytes: %v", len(wide{}), err)
	}
	for i, err := range me.Errs {
		if !tooLarge(err) {
			t.Fatalf("Map[%d]: %v", i, err)
		}
	}
	if after, err := pool.Apply(ctx, p, pidOf, 0); err != nil || after != before {
		t.Fatalf("the worker after the large results: pid %d (was %d), %v", after, before, err)
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

var repeat = pool.Register("pool_test.repeat", func(ctx context.Context, n int) (string, error) {
	return strings.Repeat("x", n), nil
})

// TestTooLargeMatches: a task that fails because its result does not fit
// a record, raw or encoded, has an error matching ErrTooLarge (as the
// package doc says, and as a chunk of inputs too large has). Before, the
// worker's failure reached the caller as a *TaskError carrying only the
// message, which errors.Is did not match.
func TestTooLargeMatches(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.WithBufferSize(64<<10))
	if _, err := pool.Apply(ctx, p, repeat, 40000); !errors.Is(err, pool.ErrTooLarge) {
		t.Fatalf("an encoded result of 40000 bytes: %v", err)
	}
	if _, err := pool.Apply(ctx, p, widen, 1); !errors.Is(err, pool.ErrTooLarge) {
		t.Fatalf("a raw result of %d bytes: %v", len(wide{}), err)
	}
	if s, err := pool.Apply(ctx, p, repeat, 3); err != nil || s != "xxx" {
		t.Fatalf("a small result after them: %q, %v", s, err)
	}
}

// TestHugeChunksize: a chunk size larger than the input means one chunk
// of all of it, as in Python (chunksize=10**9 on five inputs), for Map,
// MapShared, Imap and ImapUnordered. Before, Map and MapShared counted
// their chunks as (n+size-1)/size, which overflowed: into zero chunks,
// and so a nil error and every output zero without a task run (or into a
// negative count, a panic in make); and Imap made room for a whole chunk
// before reading its inputs, which panicked (or, below the allocator's
// limit, died out of memory, a fatal error no recover stops).
func TestHugeChunksize(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	in := []int64{1, 2, 3, 4, 5}
	want := []int64{2, 4, 6, 8, 10}
	try := func(name string, fn func() ([]int64, error)) {
		t.Helper()
		var (
			got []int64
			err error
		)
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			got, err = fn()
		}()
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s with Chunksize(math.MaxInt): %v, %v", name, got, err)
		}
	}
	huge := pool.Chunksize(math.MaxInt)
	try("Map", func() ([]int64, error) { return pool.Map(ctx, p, double, in, huge) })
	try("MapShared", func() ([]int64, error) {
		seg := shmtest.Segment(t, 1<<20)
		a, err := array.CreateRawFrom(seg, "in", in)
		if err != nil {
			return nil, err
		}
		b, err := array.CreateRaw[int64](seg, "out", len(in))
		if err != nil {
			return nil, err
		}
		err = pool.MapShared(ctx, p, double, a, b, huge)
		return slices.Clone(b.Slice()), err
	})
	imap := func(seq func(yield func(int64, error) bool)) ([]int64, error) {
		var out []int64
		for v, err := range seq {
			if err != nil {
				return out, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	try("Imap", func() ([]int64, error) { return imap(pool.Imap(ctx, p, double, slices.Values(in), huge)) })
	try("ImapUnordered", func() ([]int64, error) {
		out, err := imap(pool.ImapUnordered(ctx, p, double, slices.Values(in), huge))
		slices.Sort(out)
		return out, err
	})
	p.Close()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEmptyCallAfterClose: every call on a closed pool fails with
// ErrClosed, an empty one too, as Python's map([]) after close raises
// "Pool not running" and as Imap of no inputs does. Before, Map,
// Starmap and MapShared of no inputs returned no error.
func TestEmptyCallAfterClose(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1))
	if out, err := pool.Map(ctx, p, double, nil); err != nil || len(out) != 0 {
		t.Fatalf("Map of nothing on a running pool: %v, %v", out, err)
	}
	p.Close()
	if _, err := pool.Map(ctx, p, double, nil); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Map of nothing after Close: %v", err)
	}
	if _, err := pool.Starmap(ctx, p, mul, []pair{}); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Starmap of nothing after Close: %v", err)
	}
	seg := shmtest.Segment(t, 1<<20)
	a, _ := array.CreateRaw[int64](seg, "in", 0)
	b, _ := array.CreateRaw[int64](seg, "out", 0)
	if err := pool.MapShared(ctx, p, double, a, b); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("MapShared of nothing after Close: %v", err)
	}
	for _, err := range pool.Imap(ctx, p, double, slices.Values([]int64{})) {
		if !errors.Is(err, pool.ErrClosed) {
			t.Errorf("Imap of nothing after Close: %v", err)
		}
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}
