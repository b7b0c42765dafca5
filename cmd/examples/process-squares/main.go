// Process-squares is the opening example of Python's multiprocessing
// tutorials, in Go: a child process appends squares to a global list and
// prints it, and the parent's list stays empty, because the child is a
// separate process with memory of its own.
//
//	result = []
//	def square_list(mylist):
//	    for num in mylist:
//	        result.append(num * num)
//	    print("Result(in process p1): {}".format(result))
//
//	p1 = multiprocessing.Process(target=square_list, args=([1, 2, 3, 4],))
//	p1.start(); p1.join()
//	print("Result(in main program): {}".format(result))
//
// Output:
//
//	Result(in process p1): [1, 4, 9, 16]
//	Result(in main program): []
package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/shmkit/shmkit/process"
)

// result lives in each process's own memory.
var result []int

var squareList = process.Register("square_list", func(ctx context.Context, mylist []int) error {
	for _, num := range mylist {
		result = append(result, num*num)
	}
	fmt.Printf("Result(in process %s): %s\n", process.Current().Name, pyList(result))
	return nil
})

func main() {
	process.Main() // runs square_list when this program was started as a worker

	p1, err := squareList.Start(context.Background(), []int{1, 2, 3, 4}, process.WithName("p1"))
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Result(in main program): %s\n", pyList(result))
}

// pyList formats a list as Python prints one: [1, 4, 9, 16].
func pyList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
