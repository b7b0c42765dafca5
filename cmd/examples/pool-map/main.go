// Pool-map is the process pool of Python's multiprocessing tutorials, in
// Go: a pool of four workers, each printing its name from the pool's
// initializer as it starts, maps do_calculation over range(10).
//
//	def do_calculation(data):
//	    return data * 2
//
//	def start_process():
//	    print('Starting', multiprocessing.current_process().name)
//
//	inputs = list(range(10))
//	print('Input   :', inputs)
//	builtin_outputs = list(map(do_calculation, inputs))
//	print('Built-in:', builtin_outputs)
//	pool = multiprocessing.Pool(processes=4, initializer=start_process)
//	pool_outputs = pool.map(do_calculation, inputs)
//	pool.close()
//	pool.join()
//	print('Pool    :', pool_outputs)
//
// The workers start together and print in an order that varies from run to
// run; the program collects their lines and prints them in the order of the
// workers' names.
//
// Output:
//
//	Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
//	Built-in: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
//	Starting PoolWorker-1
//	Starting PoolWorker-2
//	Starting PoolWorker-3
//	Starting PoolWorker-4
//	Pool    : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/pool-map/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs the pool's workers when this program was started as one
	example.Main()
}
