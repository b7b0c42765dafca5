// Manager-pool is the active pool example of Python's multiprocessing
// Semaphore in Go, with the pool's list in a manager's server: ten worker
// processes, at most three of them active at once (Semaphore(3)), each
// adding its name to the shared list under a Lock, checking that the list
// holds at most three names, and taking it out again.
//
//	class ActivePool:
//	    def __init__(self):
//	        self.mgr = multiprocessing.Manager()
//	        self.active = self.mgr.list()
//	        self.lock = multiprocessing.Lock()
//	    def makeActive(self, name):
//	        with self.lock:
//	            self.active.append(name)
//
//	s = multiprocessing.Semaphore(3)
//
// Which workers overlap is the scheduler's business; what the example prints
// is not:
//
//	10 workers ran, never more than 3 active
//	Now running: []
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/manager-pool/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
