// Package example is the manager-namespace program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "manager-namespace." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

type args struct {
	NS    *manager.Namespace
	Event *semaphore.Event
}

var producer = process.Register("manager-namespace.producer", func(ctx context.Context, a args) error {
	if err := manager.AttrOf[string](a.NS, "value").Set(ctx, "This is the value"); err != nil {
		return err
	}
	a.Event.Set()
	return nil
})

var consumer = process.Register("manager-namespace.consumer", func(ctx context.Context, a args) error {
	if !a.Event.WaitContext(ctx) {
		return ctx.Err()
	}
	v, _, err := manager.AttrOf[string](a.NS, "value").Get(ctx)
	if err != nil {
		return err
	}
	fmt.Println("After event:", v)
	return nil
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
	ns, err := manager.NewNamespace(ctx, m)
	if err != nil {
		return err
	}
	event, err := m.Event()
	if err != nil {
		return err
	}
	defer event.Close()
	if _, ok, err := manager.AttrOf[string](ns, "value").Get(ctx); err != nil || ok {
		return fmt.Errorf("value set before the producer ran (%v)", err)
	}
	fmt.Println("Before event: not set")
	c, err := consumer.Start(ctx, args{ns, event})
	if err != nil {
		return err
	}
	p, err := producer.Start(ctx, args{ns, event})
	if err != nil {
		return err
	}
	if err := p.Wait(); err != nil {
		return err
	}
	return c.Wait()
}
