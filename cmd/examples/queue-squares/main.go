// Queue-squares passes squares from one process to another through a
// shared queue, as Python's multiprocessing tutorials do: square_list puts
// them, print_queue gets and prints them.
//
//	def square_list(mylist, q):
//	    for num in mylist:
//	        q.put(num * num)
//
//	def print_queue(q):
//	    print("Queue elements:")
//	    while not q.empty():
//	        print(q.get())
//	    print("Queue is now empty!")
//
//	q = multiprocessing.Queue()
//	p1 = multiprocessing.Process(target=square_list, args=([1, 2, 3, 4], q))
//	p2 = multiprocessing.Process(target=print_queue, args=(q,))
//	p1.start(); p1.join(); p2.start(); p2.join()
//
// Output:
//
//	Queue elements:
//	1
//	4
//	9
//	16
//	Queue is now empty!
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/queue-squares/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main() // runs the workers when this program was started as one
	example.Main()
}
