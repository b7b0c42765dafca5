// Package example is the queue-count program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "queue-count." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

var count = process.Register("queue-count.count", func(ctx context.Context, q *queue.Queue[int64]) error {
	defer q.Close() // this process is done with q; the parent's handle lives on
	var n int64
	for range 1_000_000 {
		n++
	}
	return q.Put(ctx, n)
})

// Main runs the program: main calls it after process.Main.
func Main() {
	ctx := context.Background()
	q, err := queue.New(queue.Options[int64]{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	var ps []*process.Process
	for range 5 {
		p, err := count.Start(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	var sum int64
	for range ps {
		n, err := q.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		sum += n
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(sum)
}
