// Package example is the value-squares program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "value-squares." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/value"
)

// squareArgs travel to the child as handles; it attaches to the same memory.
type squareArgs struct {
	MyList    []int32
	Result    *array.Array[int32]
	SquareSum *value.Value[int32]
}

var squareList = process.Register("value-squares.square_list", func(ctx context.Context, a squareArgs) error {
	for idx, num := range a.MyList {
		a.Result.Set(idx, num*num)
	}
	var sum int32
	for _, sq := range a.Result.All() {
		sum += sq
	}
	a.SquareSum.Store(sum)
	fmt.Printf("Result(in process %s): %v\n", process.Current().Name, snapshot(a.Result))
	fmt.Printf("Sum of squares(in process %s): %d\n", process.Current().Name, a.SquareSum.Load())
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	mylist := []int32{1, 2, 3, 4}
	result, err := array.New[int32](len(mylist)) // Array('i', 4)
	if err != nil {
		return err
	}
	defer result.Close()
	squareSum, err := value.New[int32](0) // Value('i')
	if err != nil {
		return err
	}
	defer squareSum.Close()
	p1, err := squareList.Start(context.Background(), squareArgs{mylist, result, squareSum}, process.WithName("p1"))
	if err != nil {
		return err
	}
	if err := p1.Wait(); err != nil {
		return err
	}
	fmt.Printf("Result(in main program): %v\n", snapshot(result))
	fmt.Printf("Sum of squares(in main program): %d\n", squareSum.Load())
	return nil
}

// snapshot copies the array out, as Python's result[:] does.
func snapshot(a *array.Array[int32]) []int32 {
	s := make([]int32, a.Len())
	a.CopyTo(s)
	return s
}
