// Shm-squares is process-squares with the result in shared memory, as
// Python's version with multiprocessing.Array: the child writes the squares
// into a shared segment, and this time the parent sees them.
//
//	result = multiprocessing.Array('i', 4)
//	def square_list(mylist, result):
//	    for idx, num in enumerate(mylist):
//	        result[idx] = num * num
//	    print("Result(in process p1): {}".format(result[:]))
//
// Output:
//
//	Result(in process p1): [1, 4, 9, 16]
//	Result(in main program): [1, 4, 9, 16]
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/shm-squares/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs square_list when this program was started as a worker
	example.Main()
}
