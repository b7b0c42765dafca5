// Manager-dict is the shared dict example of Python's multiprocessing
// Manager in Go: ten worker processes each set one key of a dict held in
// a manager's server.
//
//	def worker(d, i):
//	    d[i] = 2 * i
//
//	with multiprocessing.Manager() as manager:
//	    d = manager.dict()
//	    jobs = [multiprocessing.Process(target=worker, args=(d, i)) for i in range(10)]
//	    ...
//	    print(d)
//
// The Dict keeps its keys in order, so the output is always
//
//	{0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/manager-dict/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
