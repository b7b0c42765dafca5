// Package example is the sync-condition program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-condition." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/value"
)

// args reach every worker. The shared condition is two raw values, which
// change and are read only under Cond.L (the lock guards them, as in
// Python).
type args struct {
	Cond    *semaphore.Cond
	Waiting *value.RawValue[uint32] // stage-2 workers waiting
	Done    *value.RawValue[bool]   // stage 1 is done
}

var stage1 = process.Register("sync-condition.stage_1", func(ctx context.Context, a args) error {
	name := process.Current().Name
	fmt.Println("Starting", name)
	a.Cond.L.Lock() // with cond:
	defer a.Cond.L.Unlock()
	fmt.Printf("%s done and ready for stage 2\n", name)
	a.Done.Store(true)
	a.Cond.Broadcast() // notify_all
	return nil
})

var stage2 = process.Register("sync-condition.stage_2", func(ctx context.Context, a args) error {
	name := process.Current().Name
	fmt.Println("Starting", name)
	a.Cond.L.Lock() // with cond:
	defer a.Cond.L.Unlock()
	a.Waiting.Store(a.Waiting.Load() + 1)
	a.Cond.Broadcast()                                   // tell the main process one more is waiting
	a.Cond.WaitFor(func() bool { return a.Done.Load() }) // cond.wait_for(...)
	fmt.Printf("%s running\n", name)
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	cond, err := semaphore.NewCond() // Condition()
	if err != nil {
		return err
	}
	defer cond.Close()
	waiting, err := value.NewRaw[uint32](0)
	if err != nil {
		return err
	}
	defer waiting.Close()
	done, err := value.NewRaw(false)
	if err != nil {
		return err
	}
	defer done.Close()
	a := args{Cond: cond, Waiting: waiting, Done: done}
	ctx := context.Background()

	var clients []*process.Process
	for i := 1; i <= 2; i++ {
		c, err := stage2.Start(ctx, a, process.WithName(fmt.Sprintf("stage_2[%d]", i)))
		if err != nil {
			return err
		}
		clients = append(clients, c)
		// Wait until this client waits, so that the next one's "Starting"
		// line comes after its own.
		cond.L.Lock()
		wctx, cancel := process.WhileRuns(ctx, c)
		err = cond.WaitForContext(wctx, func() bool { return waiting.Load() >= uint32(i) })
		cancel()
		if !errors.Is(err, semaphore.ErrNotRecoverable) { // L is held
			cond.L.Unlock()
		}
		if errors.Is(err, context.Canceled) { // wctx ended: c has exited
			return fmt.Errorf("%s exited before it waited: %v", c.Name(), c.Wait())
		}
		if err != nil {
			return err
		}
	}
	s1, err := stage1.Start(ctx, a, process.WithName("s1"))
	if err != nil {
		return err
	}
	if err := s1.Wait(); err != nil {
		return err
	}
	for _, c := range clients {
		if err := c.Wait(); err != nil {
			return err
		}
	}
	return nil
}
