// Package example is the manager-pitfall program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "manager-pitfall." so that they are
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
	Fixed bool
}

// appendItem appends to the list in the server, where the list lives:
// registered at initialisation, so that the server process has it too.
var appendItem = manager.RegisterUpdate("manager-pitfall.append", func(old []string, _ bool, item string) ([]string, error) {
	return append(old, item), nil
})

var producer = process.Register("manager-pitfall.producer", func(ctx context.Context, a args) error {
	myList := manager.AttrOf[[]string](a.NS, "my_list")
	if a.Fixed {
		// The fix: one atomic round trip that appends in the server.
		if _, err := myList.Update(ctx, appendItem.With("This is the value")); err != nil {
			return err
		}
	} else {
		// The pitfall: ns.my_list.append(...) appends to a copy.
		l, _, err := myList.Get(ctx)
		if err != nil {
			return err
		}
		_ = append(l, "This is the value") // DOES NOT UPDATE THE SERVER'S VALUE
	}
	a.Event.Set()
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
	myList := manager.AttrOf[[]string](ns, "my_list")
	if err := myList.Set(ctx, []string{}); err != nil {
		return err
	}
	show := func(when string) error {
		l, _, err := myList.Get(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %v\n", when, l)
		return nil
	}
	if err := show("Before event"); err != nil {
		return err
	}
	for _, fixed := range []bool{false, true} {
		event, err := m.Event()
		if err != nil {
			return err
		}
		defer event.Close()
		p, err := producer.Start(ctx, args{ns, event, fixed})
		if err != nil {
			return err
		}
		wctx, cancel := process.WhileRuns(ctx, p)
		ok := event.WaitContext(wctx)
		cancel()
		if !ok {
			return fmt.Errorf("the producer exited before it set the event: %v", p.Wait())
		}
		when := "After event, appended to a copy"
		if fixed {
			when = "After event, appended in the server"
		}
		if err := show(when); err != nil {
			return err
		}
		if err := p.Wait(); err != nil {
			return err
		}
	}
	return nil
}
