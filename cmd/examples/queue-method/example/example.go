// Package example is the queue-method program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "queue-method." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// MyFancyClass holds a string, so the queue carries it with the gob codec.
type MyFancyClass struct{ Name string }

// DoSomething runs in whichever process holds the value.
func (c MyFancyClass) DoSomething() {
	fmt.Printf("Doing something fancy in %s for %s!\n", process.Current().Name, c.Name)
}

var worker = process.Register("queue-method.worker", func(ctx context.Context, q *queue.Queue[MyFancyClass]) error {
	defer q.Close()
	obj, err := q.Get(ctx)
	if err != nil {
		return err
	}
	obj.DoSomething()
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	ctx := context.Background()
	q, err := queue.New(queue.Options[MyFancyClass]{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	p, err := worker.Start(ctx, q, process.WithName("Process-1"))
	if err != nil {
		log.Fatal(err)
	}
	if err := q.Put(ctx, MyFancyClass{Name: "Fancy Dan"}); err != nil {
		log.Fatal(err)
	}
	q.Close() // queue.close(): this process is done with it; the worker's handle lives on
	if err := p.Wait(); err != nil {
		log.Fatal(err)
	}
}
