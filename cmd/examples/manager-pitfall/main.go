// Manager-pitfall is the pitfall of Python's multiprocessing Namespace in Go,
// beside its fix: a mutable value inside a proxied container is a copy, so
// changing it in place changes nothing in the server.
//
//	def producer(ns, event):
//	    ns.my_list.append('This is the value')  # DOES NOT UPDATE GLOBAL VALUE!
//	    event.set()
//
//	ns.my_list = []
//
// In Go the copy is plain to see: the producer reads the slice, appends to
// its copy, and the server never hears of it. The fix changes the list in
// the server, in one atomic round trip: a registered update function (or
// a List proxy stored in the namespace).
//
// Output:
//
//	Before event: []
//	After event, appended to a copy: []
//	After event, appended in the server: [This is the value]
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/manager-pitfall/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
