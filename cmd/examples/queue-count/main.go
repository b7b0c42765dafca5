// Queue-count has five worker processes each count to 1,000,000 and put
// their total on a shared queue; the parent gets the five totals and sums
// them.
//
//	def count(q):
//	    n = 0
//	    for _ in range(1_000_000):
//	        n += 1
//	    q.put(n)
//
//	q = multiprocessing.Queue()
//	ps = [multiprocessing.Process(target=count, args=(q,)) for _ in range(5)]
//	for p in ps: p.start()
//	print(sum(q.get() for _ in ps))
//
// Output:
//
//	5000000
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

var count = process.Register("count", func(ctx context.Context, q *queue.Queue[int64]) error {
	defer q.Close() // this process is done with q; the parent's handle lives on
	var n int64
	for range 1_000_000 {
		n++
	}
	return q.Put(ctx, n)
})

func main() {
	process.Main()

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
