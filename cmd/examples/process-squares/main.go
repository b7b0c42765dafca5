// Process-squares is the opening example of Python's multiprocessing
// tutorials, in Go: a child process appends squares to a global list and
// prints it, and the parent's list stays empty, because the child is a
// separate process with memory of its own.
//
//	result = []
//	def square_list(mylist):
//	    for num in mylist:
//	        result.append(num * num)
//	    print("Result(in process p1): {}".format(result))
//
//	p1 = multiprocessing.Process(target=square_list, args=([1, 2, 3, 4],))
//	p1.start(); p1.join()
//	print("Result(in main program): {}".format(result))
//
// Output:
//
//	Result(in process p1): [1, 4, 9, 16]
//	Result(in main program): []
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/process-squares/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs square_list when this program was started as a worker
	example.Main()
}
