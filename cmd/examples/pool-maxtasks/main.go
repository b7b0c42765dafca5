// Pool-maxtasks is pool-map with maxtasksperchild=2: a worker retires after
// two tasks and a fresh one takes its place, each printing its name from
// the initializer as it starts.
//
//	pool = multiprocessing.Pool(processes=1, initializer=start_process,
//	                            maxtasksperchild=2)
//	pool_outputs = pool.map(do_calculation, inputs, chunksize=1)
//
// One worker at a time and one task a chunk make the output the same on
// every run: ten tasks, five workers. (Python starts a sixth when the fifth
// retires; shmkit starts a replacement when there is a task for it.)
//
// Output:
//
//	Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
//	Built-in: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
//	Starting PoolWorker-1
//	Starting PoolWorker-2
//	Starting PoolWorker-3
//	Starting PoolWorker-4
//	Starting PoolWorker-5
//	Pool    : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/pool-maxtasks/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs the pool's workers when this program was started as one
	example.Main()
}
