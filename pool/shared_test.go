package pool_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// TestMapShared maps in place over arrays in shared memory, twice (the
// workers keep the arrays attached between calls), then over arrays of
// another segment, and reports a panicking element as Map does.
func TestMapShared(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	for round := range 3 {
		n := 100_000 + round
		seg := shmtest.Segment(t, int64(16*n)+1<<20)
		in, err := array.CreateRaw[int64](seg, "in", n)
		if err != nil {
			t.Fatal(err)
		}
		out, err := array.CreateRaw[int64](seg, "out", n)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := 0, in.Slice(); i < n; i++ {
			s[i] = int64(i * (round + 1))
		}
		if err := pool.MapShared(ctx, p, double, in, out); err != nil {
			t.Fatal(err)
		}
		for i, v := range out.Slice() {
			if v != 2*int64(i*(round+1)) {
				t.Fatalf("round %d: out[%d] = %d", round, i, v)
			}
		}
	}
	seg := shmtest.Segment(t, 1<<20)
	in, _ := array.CreateRawFrom(seg, "in", ints(10))
	out, _ := array.CreateRaw[int](seg, "out", 10)
	err := pool.MapShared(ctx, p, boom, in, out, pool.Chunksize(3))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != 1 || !errors.Is(me.Errs[5], pool.ErrPanicked) {
		t.Fatalf("MapShared(boom): %v", err)
	}
	for i, v := range out.Slice() {
		if i != 5 && v != i+1 {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}

// TestMapSharedAnonymous maps in place over arrays made by array.NewRaw
// (anonymous memory: the running workers open it through /proc), then over
// fresh ones of the same length, which the workers must not mistake for
// the first pair, and checks every element.
func TestMapSharedAnonymous(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	for round := range 3 {
		n := 50_000
		if round == 2 {
			n = 10 // small: in a heap segment shared with other arrays
		}
		in, err := array.NewRaw[int64](n)
		if err != nil {
			t.Fatal(err)
		}
		out, err := array.NewRaw[int64](n)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := 0, in.Slice(); i < n; i++ {
			s[i] = int64(i + round)
		}
		if err := pool.MapShared(ctx, p, double, in, out, pool.Chunksize(1000)); err != nil {
			t.Fatal(err)
		}
		for i, v := range out.Slice() {
			if v != 2*int64(i+round) {
				t.Fatalf("round %d: out[%d] = %d", round, i, v)
			}
		}
		in.Close()
		out.Close()
	}
}

// TestBatch runs a batch function through Map and MapShared: results right,
// and an error fails exactly the tasks of its chunk.
func TestBatch(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	in := make([]int64, 1000)
	for i := range in {
		in[i] = int64(i)
	}
	in[13] = -13
	out, err := pool.Map(ctx, p, doubleBatch, in, pool.Chunksize(10))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != 10 {
		t.Fatalf("Map: %v", err)
	}
	for i := range in {
		if (i/10 == 1) != (me.Errs[i] != nil) || (me.Errs[i] == nil && out[i] != 2*in[i]) {
			t.Fatalf("task %d: %d, %v", i, out[i], me.Errs[i])
		}
	}
	seg := shmtest.Segment(t, 1<<20)
	a, _ := array.CreateRawFrom(seg, "in", in[20:])
	b, _ := array.CreateRaw[int64](seg, "out", len(in)-20)
	if err := pool.MapShared(ctx, p, doubleBatch, a, b); err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Slice() {
		if v != 2*in[20+i] {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}
