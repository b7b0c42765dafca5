package process_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// Workers are registered at package level, so that the re-executed child
// registers them too before process.Main runs.
var square = process.Register("example-square", func(ctx context.Context, n int) error {
	fmt.Printf("%s: %d squared is %d\n", process.Current().Name, n, n*n)
	return nil
})

// Start a worker as a real process and wait for it, as Python's
// Process(target=…).start() and join(). (main, or TestMain, calls
// process.Main first.)
func ExampleFunc_Start() {
	p, err := square.Start(context.Background(), 7, process.WithName("squarer"))
	if err != nil {
		panic(err)
	}
	if err := p.Wait(); err != nil {
		panic(err)
	}
	fmt.Println("exit code", p.ExitCode())
	// Output:
	// squarer: 7 squared is 49
	// exit code 0
}

var boom = process.Register("example-boom", func(ctx context.Context, _ struct{}) error {
	panic("something went wrong")
})

// A worker's panic reaches the parent as an *ExitError matching ErrPanicked.
func ExampleExitError() {
	err := boom.Run(context.Background(), struct{}{}, process.WithStderr(io.Discard))
	var ee *process.ExitError
	fmt.Println(errors.Is(err, process.ErrPanicked), errors.As(err, &ee) && ee.Code == 2)
	// Output:
	// true true
}

type fillArgs struct {
	Seg *shm.Segment // travels as a handle; arrives mapped
	B   byte
}

var fill = process.Register("example-fill", func(ctx context.Context, a fillArgs) error {
	defer a.Seg.Close()
	b := a.Seg.Bytes()
	for i := range 4 {
		b[i] = a.B
	}
	return nil
})

// Shared memory inside the arguments reaches the worker as a live mapping:
// what it writes, the parent sees.
func ExampleRegister() {
	seg, err := shm.CreateAnon(4096)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	if err := fill.Run(context.Background(), fillArgs{Seg: seg, B: 9}); err != nil {
		panic(err)
	}
	fmt.Println(seg.Bytes()[:4])
	// Output:
	// [9 9 9 9]
}
