// Sync-event is Python's multiprocessing Event example in Go: one worker
// waits for the event with no timeout, another with a 2 s timeout that runs
// out first and reports the event not set; then the main process sets it.
//
//	def wait_for_event(e):
//	    print('wait_for_event: starting')
//	    e.wait()
//	    print('wait_for_event: e.is_set()->', e.is_set())
//
//	def wait_for_event_timeout(e, t):
//	    print('wait_for_event_timeout: starting')
//	    e.wait(t)
//	    print('wait_for_event_timeout: e.is_set()->', e.is_set())
//
// Python's version orders its output with time.sleep; this one with a
// second Event (the blocking worker says it has started) and with Wait on
// the timed worker's process, so the output is always:
//
//	main: waiting before calling Event.set()
//	wait_for_event: starting
//	wait_for_event_timeout: starting
//	wait_for_event_timeout: e.is_set()-> false
//	main: calling Event.set()
//	wait_for_event: e.is_set()-> true
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/sync-event/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
