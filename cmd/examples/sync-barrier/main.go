// Sync-barrier shows a Barrier keeping three worker processes in lockstep
// through three phases (Python's multiprocessing Barrier). In phase k each
// worker w writes k*(w+1) into its own slot of a shared array; a Barrier
// wait ends the phase, worker 0 prints the slots, and a second wait keeps
// anyone from writing the next phase's values before they are printed.
//
//	def worker(barrier, slots, w):
//	    for k in range(1, 4):
//	        slots[w] = k * (w + 1)
//	        barrier.wait()
//	        if w == 0:
//	            print('phase', k, list(slots), 'sum', sum(slots))
//	        barrier.wait()
//
// Output:
//
//	phase 1: [1 2 3] sum 6
//	phase 2: [2 4 6] sum 12
//	phase 3: [3 6 9] sum 18
//	3 workers, 3 phases, arrival indices per phase: 0+1+2
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/sync-barrier/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
