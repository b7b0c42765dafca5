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
	"github.com/shmkit/shmkit/cmd/examples/value-counter/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs add_fifty when this program was started as a worker
	example.Main()
}
