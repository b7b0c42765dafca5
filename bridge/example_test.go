package bridge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/queue"
)

// Two queues joined through a stream: what one host puts, another gets.
// Here both "hosts" are this process, and the server runs in it too (a
// real deployment runs nats-server; see docs/bridge.md).
func ExampleSend() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, js, stopServer, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stopServer()
	if _, err := js.CreateOrUpdateStream(ctx, bridge.StreamConfig("GREETINGS")); err != nil {
		fmt.Println(err)
		return
	}

	// The producing host's queue, for messages of up to 256 bytes: Send's
	// journal holds Window of them beside it.
	out, _ := queue.New(queue.Options[string]{MaxMessage: 256})
	defer out.Close()
	in, _ := queue.New(queue.Options[string]{}) // a consuming host's queue
	defer in.Close()
	// A window of 32 messages: its journal fits the room New leaves in
	// the queue's segment.
	o := bridge.Options[string]{Stream: "GREETINGS", Window: 32}
	sent, received := make(chan error), make(chan error)
	go func() { sent <- bridge.Send(ctx, js, out, o) }()
	go func() { received <- bridge.Receive(ctx, js, in, o) }()

	for _, s := range []string{"hello", "from", "another", "host"} {
		out.Put(ctx, s)
	}
	for range 4 {
		s, err := in.Get(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(s)
	}
	cancel()
	fmt.Println(<-sent, <-received)
	// Output:
	// hello
	// from
	// another
	// host
	// <nil> <nil>
}
