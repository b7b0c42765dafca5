// Array-range is the shared-memory example of Python's multiprocessing
// documentation, with the array built from range(50): the child sets a
// shared float and negates every element of a shared array, and the parent
// prints both.
//
//	def f(n, a):
//	    n.value = 3.1415927
//	    for i in range(len(a)):
//	        a[i] = -a[i]
//
//	num = Value('d', 0.0)
//	arr = Array('i', range(50))
//	p = Process(target=f, args=(num, arr)); p.start(); p.join()
//	print(num.value)
//	print(arr[:])
//
// Output:
//
//	3.1415927
//	[0 -1 -2 … -49]
//
// The child negates the elements in place, through the array's zero-copy
// view, inside With: one write under the array's lock.
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/array-range/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs f when this program was started as a worker
	example.Main()
}
