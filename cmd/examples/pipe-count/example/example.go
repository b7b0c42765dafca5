// Package example is the pipe-count program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "pipe-count." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

var count = process.Register("pipe-count.count", func(ctx context.Context, conn *pipe.Conn[int64]) error {
	var n int64
	for range 1_000_000 {
		n++
	}
	if err := conn.Send(ctx, n); err != nil {
		return err
	}
	return conn.Close()
})

// Main runs the program: main calls it after process.Main.
func Main() {
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
