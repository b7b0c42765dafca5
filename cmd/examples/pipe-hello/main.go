// Pipe-hello sends messages from one process to another through a pipe:
// the sender sends hello, hey, hru? and END; the receiver prints each until
// END. The sender finishes before the receiver starts, so that the two
// processes' lines do not interleave.
//
//	def sender(conn, msgs):
//	    for msg in msgs:
//	        conn.send(msg)
//	        print("Sent the message: {}".format(msg))
//	    conn.close()
//
//	def receiver(conn):
//	    while 1:
//	        msg = conn.recv()
//	        if msg == "END":
//	            break
//	        print("Received the message: {}".format(msg))
//
//	msgs = ["hello", "hey", "hru?", "END"]
//	parent_conn, child_conn = multiprocessing.Pipe()
//	p1 = multiprocessing.Process(target=sender, args=(parent_conn, msgs))
//	p2 = multiprocessing.Process(target=receiver, args=(child_conn,))
//
// Output:
//
//	Sent the message: hello
//	Sent the message: hey
//	Sent the message: hru?
//	Sent the message: END
//	Received the message: hello
//	Received the message: hey
//	Received the message: hru?
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/pipe-hello/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
