// Value-counter is Python's shared counter: nine processes each add 1 to
// one shared Value fifty times, taking the value's lock for each
// increment, so that the final value is exactly 450.
//
//	def add_fifty(counter):
//	    for _ in range(50):
//	        with counter.get_lock():
//	            counter.value += 1
//	    print(current_process().name, counter.value)
//
//	counter = multiprocessing.Value('i', 0)
//	procs = [Process(target=add_fifty, args=(counter,)) for _ in range(9)]
//	...
//	print(counter.value)
//
// The workers wait on a shared Event until all nine have started, so their
// increments interleave. Each prints its name and the value its last
// increment made; those nine lines come in whatever order the processes
// finish, and the one that finished last prints 450. The last line is the final value:
//
//	p3: 312
//	p1: 350
//	…
//	450
//
// Update is the Go form of "with counter.get_lock(): counter.value += 1";
// l := counter.Lock(); l.Store(l.Load()+1); l.Unlock() is the literal
// one, and for an integer Value, value.Add(counter, 1) does the same
// without the lock.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

const (
	workers   = 9
	additions = 50
)

// addArgs carry the counter to a worker, where it arrives attached to the
// same shared memory, and the event that starts all nine at once, so that
// their increments contend.
type addArgs struct {
	Counter *value.Value[int32]
	Go      *semaphore.Event
}

var addFifty = process.Register("add_fifty", func(ctx context.Context, a addArgs) error {
	a.Go.WaitContext(ctx)
	var last int32
	for range additions {
		last = a.Counter.Update(func(v *int32) { *v++ })
	}
	fmt.Printf("%s: %d\n", process.Current().Name, last)
	return nil
})

func main() {
	process.Main() // runs add_fifty when this program was started as a worker
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-value-counter-%d", os.Getpid()), 4096)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()

	counter, err := value.Create[int32](seg, "counter", 0)
	if err != nil {
		return err
	}
	start, err := semaphore.NewEvent(seg, "go")
	if err != nil {
		return err
	}
	var procs []*process.Process
	for i := range workers {
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
