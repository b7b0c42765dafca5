// Queue-count has five worker processes each count to 1,000,000 and put
// their total on a shared queue; the parent gets the five totals and sums
// them.
//
//	def count(q):
//	    n = 0
//	    for _ in range(1_000_000):
//	        n += 1
//	    q.put(n)
//
//	q = multiprocessing.Queue()
//	ps = [multiprocessing.Process(target=count, args=(q,)) for _ in range(5)]
//	for p in ps: p.start()
//	print(sum(q.get() for _ in ps))
//
// Output:
//
//	5000000
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/queue-count/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
