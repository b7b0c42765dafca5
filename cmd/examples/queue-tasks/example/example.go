// Package example is the queue-tasks program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "queue-tasks." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"sort"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// Task multiplies A by B; a Task with Stop set is the poison pill.
type Task struct {
	A, B int
	Stop bool
}

// Call does the work, as the Python Task's __call__.
func (t Task) Call() Result { return Result{A: t.A, B: t.B, Product: t.A * t.B} }

// Result is a task's answer.
type Result struct{ A, B, Product int }

func (r Result) String() string { return fmt.Sprintf("%d * %d = %d", r.A, r.B, r.Product) }

type consumerArgs struct {
	Tasks   *queue.Joinable[Task]
	Results *queue.Queue[Result]
}

var consumer = process.Register("queue-tasks.consumer", func(ctx context.Context, a consumerArgs) error {
	defer a.Tasks.Close() // this process is done with its handles; the queues live on
	defer a.Results.Close()
	for {
		next, err := a.Tasks.Get(ctx)
		if err != nil {
			return err
		}
		if next.Stop {
			return a.Tasks.TaskDone()
		}
		answer := next.Call()
		if err := a.Tasks.TaskDone(); err != nil {
			return err
		}
		if err := a.Results.Put(ctx, answer); err != nil {
			return err
		}
	}
})

// Main runs the program: main calls it after process.Main.
func Main() {
	ctx := context.Background()
	tasks, err := queue.NewJoinable(queue.Options[Task]{})
	if err != nil {
		log.Fatal(err)
	}
	defer tasks.Close()
	results, err := queue.New(queue.Options[Result]{})
	if err != nil {
		log.Fatal(err)
	}
	defer results.Close()

	numConsumers := runtime.NumCPU() * 2
	var consumers []*process.Process
	for range numConsumers {
		p, err := consumer.Start(ctx, consumerArgs{Tasks: tasks, Results: results})
		if err != nil {
			log.Fatal(err)
		}
		consumers = append(consumers, p)
	}
	const numJobs = 10
	for i := range numJobs {
		tasks.Put(ctx, Task{A: i, B: i})
	}
	for range numConsumers {
		tasks.Put(ctx, Task{Stop: true})
	}
	if err := tasks.Join(ctx); err != nil {
		log.Fatal(err)
	}
	var got []Result
	for range numJobs {
		r, err := results.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, r)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].A < got[j].A })
	for _, r := range got {
		fmt.Println("Result:", r)
	}
	exited := 0
	for _, p := range consumers {
		if err := p.Wait(); err != nil {
			log.Fatal(err)
		}
		exited++
	}
	fmt.Printf("Consumers exited: %d (2 per core)\n", exited)
}
