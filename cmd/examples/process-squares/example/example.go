// Package example is the process-squares program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "process-squares." so that they are
// unique in that binary, which registers the workers of every example.
package example

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

var squareList = process.Register("process-squares.square_list", func(ctx context.Context, mylist []int) error {
	for _, num := range mylist {
		result = append(result, num*num)
	}
	fmt.Printf("Result(in process %s): %s\n", process.Current().Name, pyList(result))
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
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
