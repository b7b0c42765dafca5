// Sync-condition is Python's multiprocessing Condition example in Go: two
// stage-2 workers start only after the stage-1 worker notifies them.
//
//	def stage_1(cond):
//	    name = multiprocessing.current_process().name
//	    print('Starting', name)
//	    with cond:
//	        print('{} done and ready for stage 2'.format(name))
//	        cond.notify_all()
//
//	def stage_2(cond):
//	    name = multiprocessing.current_process().name
//	    print('Starting', name)
//	    with cond:
//	        cond.wait()
//	        print('{} running'.format(name))
//
// Python's version sleeps a second between starts and hopes the stage-2
// workers are waiting before stage 1 notifies; a notification sent before
// they wait would be lost. Here the condition is a word in shared memory
// (stage 1 done), guarded by the Cond's lock, so the order of start-up does
// not matter; and the main process waits (on the same Cond) until both
// stage-2 workers are waiting before it starts stage 1, which makes the
// output:
//
//	Starting stage_2[1]
//	Starting stage_2[2]
//	Starting s1
//	s1 done and ready for stage 2
//	stage_2[1] running      (these two in either order)
//	stage_2[2] running
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/sync-condition/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
