// Queue-tasks is the consumer/task example of Python's multiprocessing
// documentation: a joinable queue of tasks, twice as many consumer
// processes as cores, one poison pill per consumer, and a result queue.
//
//	class Consumer(multiprocessing.Process):
//	    def run(self):
//	        while True:
//	            next_task = self.task_queue.get()
//	            if next_task is None:          # poison pill
//	                self.task_queue.task_done()
//	                break
//	            answer = next_task()
//	            self.task_queue.task_done()
//	            self.result_queue.put(answer)
//
//	tasks = multiprocessing.JoinableQueue(); results = multiprocessing.Queue()
//	consumers = [Consumer(tasks, results) for i in range(multiprocessing.cpu_count() * 2)]
//	for i in range(10): tasks.put(Task(i, i))
//	for i in range(num_consumers): tasks.put(None)
//	tasks.join()
//	while num_jobs: print('Result:', results.get()); num_jobs -= 1
//
// Which consumer runs which task varies from run to run; the results are
// printed sorted so that the output does not.
//
// Output:
//
//	Result: 0 * 0 = 0
//	Result: 1 * 1 = 1
//	Result: 2 * 2 = 4
//	Result: 3 * 3 = 9
//	Result: 4 * 4 = 16
//	Result: 5 * 5 = 25
//	Result: 6 * 6 = 36
//	Result: 7 * 7 = 49
//	Result: 8 * 8 = 64
//	Result: 9 * 9 = 81
//	Consumers exited: N (2 per core)
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/queue-tasks/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
