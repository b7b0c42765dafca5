// Sync-event is Python's multiprocessing Event example in Go: one worker
// waits for the event with no timeout, another with a 2 s timeout that runs
// out first and reports the event not set; then the main process sets it.
//
//	def wait_for_event(e):
//	    print('wait_for_event: starting')
//	    e.wait()
//	    print('wait_for_event: e.is_set()->', e.is_set())
//
//	def wait_for_event_timeout(e, t):
//	    print('wait_for_event_timeout: starting')
//	    e.wait(t)
//	    print('wait_for_event_timeout: e.is_set()->', e.is_set())
//
// Python's version orders its output with time.sleep; this one with a
// second Event (the blocking worker says it has started) and with Wait on
// the timed worker's process, so the output is always:
//
//	main: waiting before calling Event.set()
//	wait_for_event: starting
//	wait_for_event_timeout: starting
//	wait_for_event_timeout: e.is_set()-> false
//	main: calling Event.set()
//	wait_for_event: e.is_set()-> true
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

type args struct {
	E, Started *semaphore.Event
	Timeout    time.Duration
}

var waitForEvent = process.Register("wait_for_event", func(ctx context.Context, a args) error {
	fmt.Println("wait_for_event: starting")
	a.Started.Set()
	a.E.WaitContext(ctx)
	fmt.Println("wait_for_event: e.is_set()->", a.E.IsSet())
	return nil
})

var waitForEventTimeout = process.Register("wait_for_event_timeout", func(ctx context.Context, a args) error {
	fmt.Println("wait_for_event_timeout: starting")
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	a.E.WaitContext(ctx) // returns false when the timeout runs out first
	fmt.Println("wait_for_event_timeout: e.is_set()->", a.E.IsSet())
	return nil
})

func main() {
	process.Main()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	seg, err := shm.Create(fmt.Sprintf("sync-event-%d", os.Getpid()), 1<<16)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()
	e, err := semaphore.NewEvent(seg, "e")
	if err != nil {
		return err
	}
	started, err := semaphore.NewEvent(seg, "started")
	if err != nil {
		return err
	}
	ctx := context.Background()
	a := args{E: e, Started: started, Timeout: 2 * time.Second}

	fmt.Println("main: waiting before calling Event.set()")
	w1, err := waitForEvent.Start(ctx, a, process.WithName("block"))
	if err != nil {
		return err
	}
	started.WaitContext(ctx)
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
