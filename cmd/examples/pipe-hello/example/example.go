// Package example is the pipe-hello program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "pipe-hello." so that they are
// unique in that binary, which registers the workers of every example.
package example

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

var sender = process.Register("pipe-hello.sender", func(ctx context.Context, a senderArgs) error {
	for _, msg := range a.Msgs {
		if err := a.Conn.Send(ctx, msg); err != nil {
			return err
		}
		fmt.Printf("Sent the message: %s\n", msg)
	}
	return a.Conn.Close()
})

var receiver = process.Register("pipe-hello.receiver", func(ctx context.Context, conn *pipe.Conn[string]) error {
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

// Main runs the program: main calls it after process.Main.
func Main() {
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
