// Sync-lock is Python's multiprocessing Lock example in Go: two worker
// processes write to one output stream, each holding a shared Lock while it
// writes, so that their lines never interleave. One releases with a
// deferred Unlock (Python's `with lock:`), the other calls Lock and Unlock
// itself (Python's acquire/try/finally release).
//
//	def worker_with(lock, stream):
//	    with lock:
//	        stream.write('Lock acquired via with\n')
//
//	def worker_no_with(lock, stream):
//	    lock.acquire()
//	    try:
//	        stream.write('Lock acquired directly\n')
//	    finally:
//	        lock.release()
//
// To make interleaving visible if the lock failed, each worker writes each
// of its lines a word at a time, one write system call per word, several
// times, and both start together (a Barrier). Which worker goes first is
// up to the scheduler; every line comes out whole:
//
//	Lock acquired directly (1 of 10)
//	Lock acquired directly (2 of 10)
//	Lock acquired via with (1 of 10)
//	...
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/sync-lock/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
