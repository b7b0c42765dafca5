// Package example is the queue-squares program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "queue-squares." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

type squareArgs struct {
	MyList []int
	Q      *queue.Queue[int]
}

var squareList = process.Register("queue-squares.square_list", func(ctx context.Context, a squareArgs) error {
	defer a.Q.Close()
	for _, num := range a.MyList {
		if err := a.Q.Put(ctx, num*num); err != nil {
			return err
		}
	}
	return nil
})

var printQueue = process.Register("queue-squares.print_queue", func(ctx context.Context, q *queue.Queue[int]) error {
	defer q.Close()
	fmt.Println("Queue elements:")
	for !q.Empty() {
		v, err := q.Get(ctx)
		if err != nil {
			return err
		}
		fmt.Println(v)
	}
	fmt.Println("Queue is now empty!")
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	ctx := context.Background()
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	p1, err := squareList.Start(ctx, squareArgs{MyList: []int{1, 2, 3, 4}, Q: q})
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Wait(); err != nil {
		log.Fatal(err)
	}
	p2, err := printQueue.Start(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	if err := p2.Wait(); err != nil {
		log.Fatal(err)
	}
}
