package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pool"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	code := m.Run()
	// Pools use anonymous segments only: nothing of this process may be
	// left in /dev/shm (the tests' own named segments are removed by
	// their cleanups).
	infos, err := shm.List()
	if err != nil {
		fmt.Fprintln(os.Stderr, "listing /dev/shm:", err)
		code = 1
	}
	for _, in := range infos {
		if in.CreatorPID == os.Getpid() {
			fmt.Fprintln(os.Stderr, "left in /dev/shm:", in.Name)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	double = pool.Register("pool_test.double", func(ctx context.Context, x int64) (int64, error) {
		return 2 * x, nil
	})
	itoa = pool.Register("pool_test.itoa", func(ctx context.Context, x int) (string, error) {
		if x%7 == 3 {
			return "", fmt.Errorf("no %d", x)
		}
		return strconv.Itoa(x), nil
	})
	boom = pool.Register("pool_test.boom", func(ctx context.Context, x int) (int, error) {
		if x == 5 {
			panic("boom at five")
		}
		return x + 1, nil
	})
	pidOf = pool.Register("pool_test.pid", func(ctx context.Context, x int) (int, error) {
		return os.Getpid(), nil
	})
)

// doubleBatch doubles a chunk in one call; a chunk holding -13 fails.
var doubleBatch = pool.RegisterBatch("pool_test.double_batch", func(ctx context.Context, in, out []int64) error {
	for i, x := range in {
		if x == -13 {
			return errors.New("thirteen")
		}
		out[i] = 2 * x
	}
	return nil
})

// pair is Starmap's argument struct.
type pair struct{ A, B int64 }

var mul = pool.Register("pool_test.mul", func(ctx context.Context, p pair) (int64, error) { return p.A * p.B, nil })

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 60*time.Second))
	t.Cleanup(cancel)
	return ctx
}

func start(t testing.TB, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.Start(ctxFor(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate() })
	return p
}

func TestMapDouble(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	in := make([]int64, 10000)
	for i := range in {
		in[i] = int64(i)
	}
	out, err := pool.Map(ctx, p, double, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != 2*int64(i) {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}
