// Sync-semaphore is Python's multiprocessing Semaphore "ActivePool" example
// in Go: ten worker processes, at most three of them active at once, each
// printing the list of active workers as it joins it.
//
//	class ActivePool:
//	    def makeActive(self, name):
//	        with self.lock:
//	            self.active.append(name)
//	    def makeInactive(self, name):
//	        with self.lock:
//	            self.active.remove(name)
//
//	def worker(s, pool):
//	    name = multiprocessing.current_process().name
//	    with s:
//	        pool.makeActive(name)
//	        print('Activating {} now running {}'.format(name, pool))
//	        time.sleep(random.random())
//	        pool.makeInactive(name)
//
//	s = multiprocessing.Semaphore(3)
//
// Python keeps the active list in a Manager process; here it is ten flags
// in shared memory guarded by a shmkit Mutex. Which workers overlap is the
// scheduler's business, so the lines differ from run to run, e.g.
//
//	Activating 0 now running ['0']
//	Activating 2 now running ['0', '2']
//	Activating 1 now running ['0', '1', '2']
//	Activating 3 now running ['1', '2', '3']
//	...
//	Now running []
//
// but every list holds at most three names, and its own.
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/sync-semaphore/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
