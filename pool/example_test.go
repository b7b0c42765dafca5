package pool_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/pool"
)

// square is registered at package initialisation, so that the workers,
// which are this program started again, know it too.
var square = pool.Register("pool_test.example.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

var shout = pool.Register("pool_test.example.shout", func(ctx context.Context, s string) (string, error) {
	if s == "" {
		return "", errors.New("nothing to shout")
	}
	return strings.ToUpper(s) + "!", nil
})

func ExampleMap() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	out, err := pool.Map(ctx, p, square, []int{1, 2, 3, 4, 5})
	fmt.Println(out, err)
	// Output: [1 4 9 16 25] <nil>
}

func ExamplePool() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2), pool.MaxTasksPerChild(100))
	if err != nil {
		log.Fatal(err)
	}
	out, _ := pool.Map(ctx, p, shout, []string{"a", "b"})
	fmt.Println(out)
	p.Close() // no more calls
	if err := p.Join(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: [A! B!]
}

func ExampleFunc() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(1))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	_, err = pool.Apply(ctx, p, shout, "")
	fmt.Println(err)
	s, err := pool.Apply(ctx, p, shout, "hello")
	fmt.Println(s, err)
	// Output:
	// nothing to shout
	// HELLO! <nil>
}

func ExampleImap() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	for v, err := range pool.Imap(ctx, p, square, slices.Values([]int{3, 1, 2}), pool.Chunksize(2)) {
		fmt.Println(v, err)
	}
	// Output:
	// 9 <nil>
	// 1 <nil>
	// 4 <nil>
}

func ExampleFuture() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	f := pool.Submit(ctx, p, square, 12)
	v, err := f.Get(ctx)
	fmt.Println(v, err, f.Ready())
	// Output: 144 <nil> true
}

func ExampleMapShared() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	// Anonymous arrays: the running workers open their memory through
	// /proc (arrays in a named segment, array.CreateRaw, work as well).
	in, _ := array.NewRawFrom([]int{1, 2, 3, 4, 5, 6})
	out, _ := array.NewRaw[int](6)
	defer in.Close()
	defer out.Close()
	if err := pool.MapShared(ctx, p, square, in, out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Slice())
	// Output: [1 4 9 16 25 36]
}

// quit ends its worker process when x is negative.
var quit = pool.Register("pool_test.example.quit", func(ctx context.Context, x int) (int, error) {
	if x < 0 {
		os.Exit(3)
	}
	return x, nil
})

func ExampleWorkerError() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(1), pool.WithNamePrefix("ForkPoolWorker"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	_, err = pool.Apply(ctx, p, quit, -1)
	var we *pool.WorkerError
	fmt.Println(errors.Is(err, pool.ErrWorkerDied), errors.As(err, &we), we.Worker, we.Code)
	v, err := pool.Apply(ctx, p, quit, 7) // on a fresh worker
	fmt.Println(v, err)
	// Output:
	// true true ForkPoolWorker-1 3
	// 7 <nil>
}

func ExampleTaskError() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(1))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	_, err = pool.Apply(ctx, p, boom, 5)
	var te *pool.TaskError
	fmt.Println(errors.Is(err, pool.ErrPanicked), errors.As(err, &te), te.Msg, strings.Contains(te.Stack, "panic"))
	// Output: true true boom at five true
}

func ExampleMapError() {
	ctx := context.Background()
	p, err := pool.Start(ctx, pool.Processes(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Terminate()
	out, err := pool.Map(ctx, p, shout, []string{"a", "", "c"})
	var me *pool.MapError
	if errors.As(err, &me) {
		fmt.Printf("%q %d failed: %v\n", out, me.Failed, me.Errs[1])
	}
	// Output: ["A!" "" "C!"] 1 failed: nothing to shout
}
