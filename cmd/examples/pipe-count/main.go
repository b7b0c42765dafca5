// Pipe-count is queue-count with pipes: five worker processes each count
// to 1,000,000 and send their total down a pipe of their own; the parent
// receives the five totals and sums them.
//
//	def count(conn):
//	    n = 0
//	    for _ in range(1_000_000):
//	        n += 1
//	    conn.send(n)
//	    conn.close()
//
//	pipes = [multiprocessing.Pipe() for _ in range(5)]
//	ps = [multiprocessing.Process(target=count, args=(child,)) for _, child in pipes]
//	for p in ps: p.start()
//	print(sum(parent.recv() for parent, _ in pipes))
//
// Output:
//
//	5000000
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

var count = process.Register("count", func(ctx context.Context, conn *pipe.Conn[int64]) error {
	var n int64
	for range 1_000_000 {
		n++
	}
	if err := conn.Send(ctx, n); err != nil {
		return err
	}
	return conn.Close()
})

func main() {
	process.Main()

	ctx := context.Background()
	var parents []*pipe.Conn[int64]
	var ps []*process.Process
	for range 5 {
		parent, child, err := pipe.New(pipe.Options[int64]{})
		if err != nil {
			log.Fatal(err)
		}
		p, err := count.Start(ctx, child)
		if err != nil {
			log.Fatal(err)
		}
		parents = append(parents, parent)
		ps = append(ps, p)
	}
	var sum int64
	for _, parent := range parents {
		n, err := parent.Recv(ctx)
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
