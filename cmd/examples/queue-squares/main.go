// Queue-squares passes squares from one process to another through a
// shared queue, as Python's multiprocessing tutorials do: square_list puts
// them, print_queue gets and prints them.
//
//	def square_list(mylist, q):
//	    for num in mylist:
//	        q.put(num * num)
//
//	def print_queue(q):
//	    print("Queue elements:")
//	    while not q.empty():
//	        print(q.get())
//	    print("Queue is now empty!")
//
//	q = multiprocessing.Queue()
//	p1 = multiprocessing.Process(target=square_list, args=([1, 2, 3, 4], q))
//	p2 = multiprocessing.Process(target=print_queue, args=(q,))
//	p1.start(); p1.join(); p2.start(); p2.join()
//
// Output:
//
//	Queue elements:
//	1
//	4
//	9
//	16
//	Queue is now empty!
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

type squareArgs struct {
	MyList []int
	Q      *queue.Queue[int]
}

var squareList = process.Register("square_list", func(ctx context.Context, a squareArgs) error {
	defer a.Q.Close()
	for _, num := range a.MyList {
		if err := a.Q.Put(ctx, num*num); err != nil {
			return err
		}
	}
	return nil
})

var printQueue = process.Register("print_queue", func(ctx context.Context, q *queue.Queue[int]) error {
	defer q.Close()
	fmt.Println("Queue elements:")
	for !q.Empty() {
		v, err := q.Get(ctx)
		if err != nil {
			return err
		}
		fmt.Println(v)
	}
	fmt.Println("Queue is now empty!")
	return nil
})

func main() {
	process.Main() // runs the workers when this program was started as one

	ctx := context.Background()
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	p1, err := squareList.Start(ctx, squareArgs{MyList: []int{1, 2, 3, 4}, Q: q})
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Wait(); err != nil {
		log.Fatal(err)
	}
	p2, err := printQueue.Start(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	if err := p2.Wait(); err != nil {
		log.Fatal(err)
	}
}
