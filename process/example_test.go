package process_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

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
	defer a.Seg.Close() // this worker is done with its mapping; the parent's stays
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

// A Process is Python's: Start, then Wait (join), ExitCode, Alive.
func ExampleProcess() {
	p, err := square.Start(context.Background(), 3, process.WithName("p1"))
	if err != nil {
		panic(err)
	}
	err = p.Wait()
	fmt.Println(err, p.Name(), p.Alive(), p.ExitCode(), p.Pid() > 0)
	// Output:
	// p1: 3 squared is 9
	// <nil> p1 false 0 true
}

// Current is Python's current_process(): "MainProcess" in the program
// started by hand, the name given at Start in a worker.
func ExampleCurrent() {
	c := process.Current()
	fmt.Println(c.Name, c.Pid == os.Getpid(), c.Worker == "", process.IsWorker())
	// Output: MainProcess true true false
}

var whoStartedMe = process.Register("example-parent", func(ctx context.Context, _ struct{}) error {
	p, ok := process.Parent()
	fmt.Println(process.Current().Name, "was started by", p.Name, ok)
	return nil
})

// Parent is Python's parent_process(): the process that started this
// worker, and ok false in the main process.
func ExampleParent() {
	_, ok := process.Parent()
	fmt.Println("main process has a parent:", ok)
	if err := whoStartedMe.Run(context.Background(), struct{}{}, process.WithName("child")); err != nil {
		panic(err)
	}
	// Output:
	// main process has a parent: false
	// child was started by MainProcess true
}

var forever = process.Register("example-forever", func(ctx context.Context, _ struct{}) error { select {} })

// WaitAny returns the children that have exited once one has: Python's
// multiprocessing.connection.wait on process sentinels. ActiveChildren
// lists those still running.
func ExampleWaitAny() {
	ctx := context.Background()
	slow, _ := forever.Start(ctx, struct{}{}, process.WithName("slow"))
	fast, _ := square.Start(ctx, 2, process.WithName("fast"))
	done, err := process.WaitAny(ctx, slow, fast)
	if err != nil {
		panic(err)
	}
	for _, p := range done {
		fmt.Println("exited:", p.Name())
	}
	fmt.Println("slow is active:", slices.Contains(process.ActiveChildren(), slow))
	slow.Kill()
	_ = slow.Wait()
	fmt.Println("slow is active:", slices.Contains(process.ActiveChildren(), slow))
	// Output:
	// fast: 2 squared is 4
	// exited: fast
	// slow is active: true
	// slow is active: false
}
