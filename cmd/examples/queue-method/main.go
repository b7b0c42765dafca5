// Queue-method sends a value of a user type through a queue to a worker
// process, which calls its method: the value travels encoded (gob, as
// Python pickles it), and the method is the worker's own code.
//
//	class MyFancyClass:
//	    def __init__(self, name):
//	        self.name = name
//	    def do_something(self):
//	        proc_name = multiprocessing.current_process().name
//	        print('Doing something fancy in {} for {}!'.format(proc_name, self.name))
//
//	def worker(q):
//	    obj = q.get()
//	    obj.do_something()
//
//	queue = multiprocessing.Queue()
//	p = multiprocessing.Process(target=worker, args=(queue,))
//	p.start()
//	queue.put(MyFancyClass('Fancy Dan'))
//	queue.close(); queue.join_thread(); p.join()
//
// Output:
//
//	Doing something fancy in Process-1 for Fancy Dan!
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// MyFancyClass holds a string, so the queue carries it with the gob codec.
type MyFancyClass struct{ Name string }

// DoSomething runs in whichever process holds the value.
func (c MyFancyClass) DoSomething() {
	fmt.Printf("Doing something fancy in %s for %s!\n", process.Current().Name, c.Name)
}

var worker = process.Register("worker", func(ctx context.Context, q *queue.Queue[MyFancyClass]) error {
	defer q.Close()
	obj, err := q.Get(ctx)
	if err != nil {
		return err
	}
	obj.DoSomething()
	return nil
})

func main() {
	process.Main()

	ctx := context.Background()
	q, err := queue.New(queue.Options[MyFancyClass]{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	p, err := worker.Start(ctx, q, process.WithName("Process-1"))
	if err != nil {
		log.Fatal(err)
	}
	if err := q.Put(ctx, MyFancyClass{Name: "Fancy Dan"}); err != nil {
		log.Fatal(err)
	}
	q.Close() // queue.close(): this process is done with it; the worker's handle lives on
	if err := p.Wait(); err != nil {
		log.Fatal(err)
	}
}
