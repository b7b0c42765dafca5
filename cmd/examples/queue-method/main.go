// Queue-method sends a value of a user type through a queue to a worker
// process, which calls its method: the value travels encoded (gob, as
// Python pickles it), and the method is the worker's own code.
//
//	class MyFancyClass:
//	    def __init__(self, name):
//	        self.name = name
//	    def do_something(self):
//	        proc_name = multiprocessing.current_process().name
//	        print('Doing something fancy in {} for {}!'.format(proc_name, self.name))
//
//	def worker(q):
//	    obj = q.get()
//	    obj.do_something()
//
//	queue = multiprocessing.Queue()
//	p = multiprocessing.Process(target=worker, args=(queue,))
//	p.start()
//	queue.put(MyFancyClass('Fancy Dan'))
//	queue.close(); queue.join_thread(); p.join()
//
// Output:
//
//	Doing something fancy in Process-1 for Fancy Dan!
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/queue-method/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
