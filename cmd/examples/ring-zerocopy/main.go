// Ring-zerocopy shows the engine under Queue and Pipe: a many-to-one ring in
// shared memory that producers write into in place and the consumer reads in
// place. Python's multiprocessing has no counterpart; its Queue pickles each
// message into a pipe.
//
// Three producer processes each reserve space for a record inside the ring,
// fill it where it lies (no buffer, no copy) and commit it. The parent reads
// the records where they lie, a batch at a time, checks that every
// producer's records arrive in order, and stops at the end of the stream:
// when every producer has closed its end, the ring answers io.EOF.
//
// Output:
//
//	producer 0: 1000 records in order, sum 499500
//	producer 1: 1000 records in order, sum 499500
//	producer 2: 1000 records in order, sum 499500
//	3000 records, 48000 bytes, read in place
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/ring-zerocopy/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
