// Package example is the sync-event program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-event." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

type args struct {
	E, Started *semaphore.Event
	Timeout    time.Duration
}

var waitForEvent = process.Register("sync-event.wait_for_event", func(ctx context.Context, a args) error {
	fmt.Println("wait_for_event: starting")
	a.Started.Set()
	a.E.WaitContext(ctx)
	fmt.Println("wait_for_event: e.is_set()->", a.E.IsSet())
	return nil
})

var waitForEventTimeout = process.Register("sync-event.wait_for_event_timeout", func(ctx context.Context, a args) error {
	fmt.Println("wait_for_event_timeout: starting")
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	a.E.WaitContext(ctx) // returns false when the timeout runs out first
	fmt.Println("wait_for_event_timeout: e.is_set()->", a.E.IsSet())
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	e, err := semaphore.NewEvent() // Event()
	if err != nil {
		return err
	}
	defer e.Close()
	started, err := semaphore.NewEvent()
	if err != nil {
		return err
	}
	defer started.Close()
	ctx := context.Background()
	a := args{E: e, Started: started, Timeout: 2 * time.Second}

	fmt.Println("main: waiting before calling Event.set()")
	w1, err := waitForEvent.Start(ctx, a, process.WithName("block"))
	if err != nil {
		return err
	}
	wctx, cancel := process.WhileRuns(ctx, w1)
	ok := started.WaitContext(wctx)
	cancel()
	if !ok {
		return fmt.Errorf("%s exited before it waited: %v", w1.Name(), w1.Wait())
	}
	w2, err := waitForEventTimeout.Start(ctx, a, process.WithName("nonblock"))
	if err != nil {
		return err
	}
	if err := w2.Wait(); err != nil {
		return err
	}
	fmt.Println("main: calling Event.set()")
	e.Set()
	return w1.Wait()
}
