// Package example is the sync-condition program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-condition." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// args reach every worker. The shared condition is the "state" object:
// word 0 counts the stage-2 workers waiting, word 1 is 1 once stage 1 is
// done. Both change only under Cond.L.
type args struct {
	Cond  *semaphore.Cond
	Seg   *shm.Segment
	State string // object name of the state words
}

// words maps the state object's two words.
func (a args) words() (waiting, done *atomic.Uint32) {
	o, err := a.Seg.Lookup(a.State, nil)
	if err != nil {
		panic(err)
	}
	return atomics.MustUint32At(o.Body, 0), atomics.MustUint32At(o.Body, 4)
}

var stage1 = process.Register("sync-condition.stage_1", func(ctx context.Context, a args) error {
	name := process.Current().Name
	fmt.Println("Starting", name)
	_, done := a.words()
	a.Cond.L.Lock() // with cond:
	defer a.Cond.L.Unlock()
	fmt.Printf("%s done and ready for stage 2\n", name)
	done.Store(1)
	a.Cond.Broadcast() // notify_all
	return nil
})

var stage2 = process.Register("sync-condition.stage_2", func(ctx context.Context, a args) error {
	name := process.Current().Name
	fmt.Println("Starting", name)
	waiting, done := a.words()
	a.Cond.L.Lock() // with cond:
	defer a.Cond.L.Unlock()
	waiting.Add(1)
	a.Cond.Broadcast()                                      // tell the main process one more is waiting
	a.Cond.WaitFor(func() bool { return done.Load() != 0 }) // cond.wait_for(...)
	fmt.Printf("%s running\n", name)
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	seg, err := shm.Create(fmt.Sprintf("sync-condition-%d", os.Getpid()), 1<<16)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()
	cond, err := semaphore.CreateCond(seg, "condition")
	if err != nil {
		return err
	}
	if _, err := seg.Alloc("state", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		return err
	}
	a := args{Cond: cond, Seg: seg, State: "state"}
	waiting, _ := a.words()
	ctx := context.Background()

	var clients []*process.Process
	for i := 1; i <= 2; i++ {
		c, err := stage2.Start(ctx, a, process.WithName(fmt.Sprintf("stage_2[%d]", i)))
		if err != nil {
			return err
		}
		clients = append(clients, c)
		// Wait until this client waits, so that the next one's "Starting"
		// line comes after its own.
		cond.L.Lock()
		cond.WaitFor(func() bool { return waiting.Load() >= uint32(i) })
		cond.L.Unlock()
	}
	s1, err := stage1.Start(ctx, a, process.WithName("s1"))
	if err != nil {
		return err
	}
	if err := s1.Wait(); err != nil {
		return err
	}
	for _, c := range clients {
		if err := c.Wait(); err != nil {
			return err
		}
	}
	return nil
}
