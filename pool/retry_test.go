package pool_test

import (
	"context"
	"encoding/binary"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
)

// envMarks names the directory where flaky leaves the marks of its first
// attempts; the workers of a pool started after the test sets it inherit
// it.
const envMarks = "POOL_TEST_MARKS"

// once reports whether mark is asked for the first time in the directory
// envMarks names, by any worker.
func once(mark string) bool {
	f, err := os.OpenFile(filepath.Join(os.Getenv(envMarks), mark), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// padded is flaky's result: N, encoded with pad bytes after it (codec's
// Marshaler). Encoding one marked exit exits its worker, the first time.
type padded struct {
	N    int64
	pad  int
	exit bool
}

func (p padded) MarshalBinary() ([]byte, error) {
	if p.exit && once("exited") {
		os.Exit(3)
	}
	return append(binary.LittleEndian.AppendUint64(nil, uint64(p.N)), make([]byte, p.pad)...), nil
}

func (p *padded) UnmarshalBinary(b []byte) error {
	if len(b) < 8 {
		return errors.New("padded: short")
	}
	*p = padded{N: int64(binary.LittleEndian.Uint64(b)), pad: len(b) - 8}
	return nil
}

// flakyExit is the task whose result exits flaky's worker as it is
// encoded, the first time: the results before it, padded to 1 KiB, pass a
// record of the 64 KiB buffer's, so the worker has written the answer of
// task 0 in a record of its own when it exits.
const flakyExit = 40

// flaky returns x; task 0 fails on its first attempt.
var flaky = pool.Register("pool_test.flaky", func(ctx context.Context, x int64) (padded, error) {
	switch {
	case x == 0 && once("failed"):
		return padded{}, errors.New("task 0: first attempt")
	case x == flakyExit:
		return padded{N: x, exit: true}, nil
	}
	return padded{N: x, pad: 1 << 10}, nil
})

// TestRetryForgetsFirstAttempt: a task that failed in its chunk's first
// attempt, whose worker then died before the chunk was complete, and that
// succeeded when the chunk ran again (WithRetries), is a success; before,
// the first attempt's error stayed with it, and Map reported it failed.
func TestRetryForgetsFirstAttempt(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv(envMarks, t.TempDir())
	var (
		mu   sync.Mutex
		held [][]int
	)
	p := start(t, pool.Processes(1), pool.WithRetries(1), pool.WithBufferSize(64<<10), pool.WithDeathRecorder(func(pid int, tasks []int) {
		mu.Lock()
		held = append(held, tasks)
		mu.Unlock()
	}))
	in := make([]int64, flakyExit+1)
	for i := range in {
		in[i] = int64(i)
	}
	out, err := pool.Map(ctx, p, flaky, in, pool.Chunksize(len(in)))
	mu.Lock()
	h := held
	mu.Unlock()
	// The worker died having answered task 0 (its failure), and not the
	// last task: the case of the test.
	if len(h) != 1 || len(h[0]) == 0 || h[0][0] == 0 || h[0][len(h[0])-1] != flakyExit {
		t.Fatalf("the worker died holding tasks %v, want some after task 0 and up to task %d", h, flakyExit)
	}
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	for i, v := range out {
		if v.N != int64(i) {
			t.Fatalf("out[%d] = %d", i, v.N)
		}
	}
}

// flip returns x + 100; task 0 succeeds on its first attempt and fails on
// the next, and task flakyExit exits its worker as its result is
// encoded, the first time.
var flip = pool.Register("pool_test.flip", func(ctx context.Context, x int64) (padded, error) {
	switch {
	case x == 0 && !once("succeeded"):
		return padded{}, errors.New("task 0: second attempt")
	case x == flakyExit:
		return padded{N: x + 100, exit: true}, nil
	}
	return padded{N: x + 100, pad: 1 << 10}, nil
})

// TestRetryForgetsFirstValue: a task that succeeded in its chunk's first
// attempt and failed when the chunk ran again (its worker died before the
// chunk was complete; WithRetries) is reported failed, and its output is
// the zero value, not the first attempt's result, which Map returned
// beside the error before.
func TestRetryForgetsFirstValue(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv(envMarks, t.TempDir())
	p := start(t, pool.Processes(1), pool.WithRetries(1), pool.WithBufferSize(64<<10))
	in := make([]int64, flakyExit+1)
	for i := range in {
		in[i] = int64(i)
	}
	out, err := pool.Map(ctx, p, flip, in, pool.Chunksize(len(in)))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != 1 || me.Errs[0] == nil {
		t.Fatalf("Map: %v, want task 0 alone failed", err)
	}
	if out[0] != (padded{}) {
		t.Fatalf("out[0] = %+v for a failed task, want the zero value", out[0])
	}
	for i, v := range out[1:] {
		if v.N != int64(i+1)+100 {
			t.Fatalf("out[%d] = %d", i+1, v.N)
		}
	}
}

// flipShared is flip for MapShared: it returns x + 100, written in place;
// task 0 succeeds on its first attempt and fails on the next, and task
// flakyExit SIGKILLs its worker the first time, when the worker has
// written the results of the tasks before it in place and answered none.
var flipShared = pool.Register("pool_test.flip_shared", func(ctx context.Context, x int64) (int64, error) {
	switch {
	case x == 0 && !once("succeeded"):
		return 0, errors.New("task 0: second attempt")
	case x == flakyExit && once("killed"):
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	}
	return x + 100, nil
})

// newInOut makes the input 0, 1, … n-1 and an output of n elements
// holding -1, in a segment of the test's.
func newInOut(t *testing.T, n int) (in, out *array.RawArray[int64]) {
	seg := shmtest.Segment(t, 1<<20)
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = int64(i)
	}
	in, err := array.CreateRawFrom(seg, "in", vals)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		vals[i] = -1
	}
	if out, err = array.CreateRawFrom(seg, "out", vals); err != nil {
		t.Fatal(err)
	}
	return in, out
}

// TestRetryForgetsFirstValueShared is TestRetryForgetsFirstValue for
// MapShared, whose workers write the results in place: task 0 succeeded
// in its chunk's first attempt, whose worker was then killed, and failed
// when the chunk ran again (WithRetries). It is reported failed, and its
// element of out holds the zero value, as Map's output does, not the
// first attempt's result.
func TestRetryForgetsFirstValueShared(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv(envMarks, t.TempDir())
	p := start(t, pool.Processes(1), pool.WithRetries(1))
	in, out := newInOut(t, flakyExit+1)
	err := pool.MapShared(ctx, p, flipShared, in, out, pool.Chunksize(in.Len()))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != 1 || me.Errs[0] == nil {
		t.Fatalf("MapShared: %v, want task 0 alone failed", err)
	}
	if v := out.At(0); v != 0 {
		t.Fatalf("out[0] = %d for a failed task, want the zero value", v)
	}
	for i, v := range out.Slice()[1:] {
		if v != int64(i+1)+100 {
			t.Fatalf("out[%d] = %d", i+1, v)
		}
	}
}

// TestWorkerDiedForgetsValueShared: the worker of a MapShared chunk is
// killed (without WithRetries) after it has written the results of the
// tasks before task flakyExit in place, and before it answered any: every
// task of the chunk is reported failed with ErrWorkerDied, and each
// element of out holds the zero value, as Map's output does, not what
// the dead worker wrote there.
func TestWorkerDiedForgetsValueShared(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv(envMarks, t.TempDir())
	p := start(t, pool.Processes(1))
	in, out := newInOut(t, flakyExit+1)
	err := pool.MapShared(ctx, p, flipShared, in, out, pool.Chunksize(in.Len()))
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != in.Len() {
		t.Fatalf("MapShared: %v, want all %d tasks failed", err, in.Len())
	}
	for i, v := range out.Slice() {
		if !errors.Is(me.Errs[i], pool.ErrWorkerDied) {
			t.Fatalf("task %d: %v, want ErrWorkerDied", i, me.Errs[i])
		}
		if v != 0 {
			t.Fatalf("out[%d] = %d for a failed task, want the zero value", i, v)
		}
	}
}

// TestRetryForgetsFirstValueImap is TestRetryForgetsFirstValue for Imap
// and ImapUnordered, which yield the chunk's outputs as Map returns them:
// task 0, failed on the chunk's second attempt, yields the zero value
// beside its error, not the first attempt's result.
func TestRetryForgetsFirstValueImap(t *testing.T) {
	for name, imap := range map[string]func(context.Context, *pool.Pool, *pool.Func[int64, padded], iter.Seq[int64], ...pool.CallOption) iter.Seq2[padded, error]{
		"Imap":          pool.Imap[int64, padded],
		"ImapUnordered": pool.ImapUnordered[int64, padded],
	} {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t)
			t.Setenv(envMarks, t.TempDir())
			p := start(t, pool.Processes(1), pool.WithRetries(1), pool.WithBufferSize(64<<10))
			in := make([]int64, flakyExit+1)
			for i := range in {
				in[i] = int64(i)
			}
			i := 0
			for v, err := range imap(ctx, p, flip, slices.Values(in), pool.Chunksize(len(in))) {
				switch {
				case i == 0 && (err == nil || v != padded{}):
					t.Fatalf("task 0: %+v, %v; want the zero value and the second attempt's error", v, err)
				case i > 0 && (err != nil || v.N != int64(i)+100):
					t.Fatalf("task %d: %+v, %v", i, v, err)
				}
				i++
			}
			if i != len(in) {
				t.Fatalf("%d results of %d tasks", i, len(in))
			}
		})
	}
}

// killShared returns x + 100, written in place; task flakyExit SIGKILLs
// its worker the first time, as flipShared's does.
var killShared = pool.Register("pool_test.kill_shared", func(ctx context.Context, x int64) (int64, error) {
	if x == flakyExit && once("killed") {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	}
	return x + 100, nil
})

// TestRetryAliasedShared: MapShared with out the same array as in, whose
// worker is killed midway through the chunk, having written the results
// of the tasks before the kill over their inputs. The chunk must not run
// again (WithRetries) from those results: it ran f twice on those
// elements, and MapShared succeeded with x + 200 in them. Its tasks fail
// with ErrWorkerDied, as without WithRetries.
func TestRetryAliasedShared(t *testing.T) {
	ctx := ctxFor(t)
	t.Setenv(envMarks, t.TempDir())
	p := start(t, pool.Processes(1), pool.WithRetries(1))
	a, _ := newInOut(t, flakyExit+1)
	err := pool.MapShared(ctx, p, killShared, a, a, pool.Chunksize(a.Len()))
	for i, v := range a.Slice() {
		if v > int64(i)+100 {
			t.Fatalf("a[%d] = %d: f ran on its own result (MapShared: %v)", i, v, err)
		}
	}
	var me *pool.MapError
	if !errors.As(err, &me) || me.Failed != a.Len() {
		t.Fatalf("MapShared: %v, want all %d tasks failed", err, a.Len())
	}
	for i, err := range me.Errs {
		if !errors.Is(err, pool.ErrWorkerDied) {
			t.Fatalf("task %d: %v, want ErrWorkerDied", i, err)
		}
	}
}
