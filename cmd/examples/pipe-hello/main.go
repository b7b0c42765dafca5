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
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

type senderArgs struct {
	Conn *pipe.Conn[string]
	Msgs []string
}

var sender = process.Register("sender", func(ctx context.Context, a senderArgs) error {
	for _, msg := range a.Msgs {
		if err := a.Conn.Send(ctx, msg); err != nil {
			return err
		}
		fmt.Printf("Sent the message: %s\n", msg)
	}
	return a.Conn.Close()
})

var receiver = process.Register("receiver", func(ctx context.Context, conn *pipe.Conn[string]) error {
	defer conn.Close()
	for {
		msg, err := conn.Recv(ctx)
		if err != nil {
			return err
		}
		if msg == "END" {
			return nil
		}
		fmt.Printf("Received the message: %s\n", msg)
	}
})

func main() {
	process.Main()

	ctx := context.Background()
	parentConn, childConn, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		log.Fatal(err)
	}
	msgs := []string{"hello", "hey", "hru?", "END"}
	p1, err := sender.Start(ctx, senderArgs{Conn: parentConn, Msgs: msgs})
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Wait(); err != nil {
		log.Fatal(err)
	}
	p2, err := receiver.Start(ctx, childConn)
	if err != nil {
		log.Fatal(err)
	}
	if err := p2.Wait(); err != nil {
		log.Fatal(err)
	}
}
