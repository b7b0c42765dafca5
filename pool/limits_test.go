package pool_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
