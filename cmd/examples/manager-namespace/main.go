// Manager-namespace is the Namespace example of Python's multiprocessing
// Manager in Go: a producer sets an attribute of a namespace held in a
// manager's server and then an Event; the consumer waits for the event and
// reads the attribute.
//
//	def producer(ns, event):
//	    ns.value = 'This is the value'
//	    event.set()
//
//	def consumer(ns, event):
//	    event.wait()
//	    print('After event:', ns.value)
//
//	mgr = multiprocessing.Manager()
//	namespace = mgr.Namespace()
//	event = multiprocessing.Event()
//
// Output:
//
//	Before event: not set
//	After event: This is the value
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/manager-namespace/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
