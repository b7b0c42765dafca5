// Value-squares is the square_list example of Python's multiprocessing
// tutorials with shared memory for its results: an Array of four int32 for
// the squares and a Value for their sum. The child fills both; the parent
// sees what the child wrote.
//
//	def square_list(mylist, result, square_sum):
//	    for idx, num in enumerate(mylist):
//	        result[idx] = num * num
//	    square_sum.value = sum(result)
//	    print("Result(in process p1): {}".format(result[:]))
//	    print("Sum of squares(in process p1): {}".format(square_sum.value))
//
//	result = multiprocessing.Array('i', 4)
//	square_sum = multiprocessing.Value('i')
//	p1 = multiprocessing.Process(target=square_list, args=(mylist, result, square_sum))
//
// Output:
//
//	Result(in process p1): [1 4 9 16]
//	Sum of squares(in process p1): 30
//	Result(in main program): [1 4 9 16]
//	Sum of squares(in main program): 30
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/value-squares/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs square_list when this program was started as a worker
	example.Main()
}
