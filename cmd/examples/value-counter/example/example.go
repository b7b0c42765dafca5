// Package example is the value-counter program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "value-counter." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/value"
)

// The counter ends at Workers*Additions.
const (
	Workers   = 9  // worker processes
	Additions = 50 // increments by each
)

// addArgs carry the counter to a worker, where it arrives attached to the
// same shared memory, and the event that starts all nine at once, so that
// their increments contend.
type addArgs struct {
	Counter *value.Value[int32]
	Go      *semaphore.Event
}

var addFifty = process.Register("value-counter.add_fifty", func(ctx context.Context, a addArgs) error {
	a.Go.WaitContext(ctx)
	var last int32
	for range Additions {
		last = a.Counter.Update(func(v *int32) { *v++ })
	}
	fmt.Printf("%s: %d\n", process.Current().Name, last)
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	counter, err := value.New[int32](0) // Value('i', 0)
	if err != nil {
		return err
	}
	defer counter.Close()
	start, err := semaphore.NewEvent()
	if err != nil {
		return err
	}
	defer start.Close()
	var procs []*process.Process
	for i := range Workers {
		p, err := addFifty.Start(context.Background(), addArgs{counter, start}, process.WithName(fmt.Sprintf("p%d", i+1)))
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	start.Set()
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			return err
		}
	}
	fmt.Println(counter.Load())
	return nil
}
