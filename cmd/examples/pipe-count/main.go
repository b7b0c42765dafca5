// Pipe-count is queue-count with pipes: five worker processes each count
// to 1,000,000 and send their total down a pipe of their own; the parent
// receives the five totals and sums them.
//
//	def count(conn):
//	    n = 0
//	    for _ in range(1_000_000):
//	        n += 1
//	    conn.send(n)
//	    conn.close()
//
//	pipes = [multiprocessing.Pipe() for _ in range(5)]
//	ps = [multiprocessing.Process(target=count, args=(child,)) for _, child in pipes]
//	for p in ps: p.start()
//	print(sum(parent.recv() for parent, _ in pipes))
//
// Output:
//
//	5000000
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/pipe-count/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
