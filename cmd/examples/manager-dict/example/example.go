// Package example is the manager-dict program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "manager-dict." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
)

type workerArgs struct {
	D *manager.Dict[int, int]
	I int
}

var worker = process.Register("manager-dict.worker", func(ctx context.Context, a workerArgs) error {
	return a.D.Set(ctx, a.I, 2*a.I)
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	m, err := manager.Start(ctx)
	if err != nil {
		return err
	}
	defer m.Shutdown()
	d, err := manager.NewDict[int, int](ctx, m)
	if err != nil {
		return err
	}
	var jobs []*process.Process
	for i := range 10 {
		p, err := worker.Start(ctx, workerArgs{d, i})
		if err != nil {
			return err
		}
		jobs = append(jobs, p)
	}
	for _, p := range jobs {
		if err := p.Wait(); err != nil {
			return err
		}
	}
	var items []string
	for it, err := range d.All(ctx) { // in key order
		if err != nil {
			return err
		}
		items = append(items, fmt.Sprintf("%d: %d", it.Key, it.Value))
	}
	fmt.Println("{" + strings.Join(items, ", ") + "}")
	return nil
}
