// Package example is the array-range program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "array-range." so that they are
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

type fArgs struct {
	N *value.Value[float64]
	A *array.Array[int32]
}

var f = process.Register("array-range.f", func(ctx context.Context, a fArgs) error {
	a.N.Store(3.1415927)
	a.A.With(func(s []int32) {
		for i := range s {
			s[i] = -s[i]
		}
	})
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	num, err := value.New(0.0) // Value('d', 0.0)
	if err != nil {
		return err
	}
	defer num.Close()
	arr, err := array.NewFrom(rangeInt32(50)) // Array('i', range(50))
	if err != nil {
		return err
	}
	defer arr.Close()
	p, err := f.Start(context.Background(), fArgs{num, arr})
	if err != nil {
		return err
	}
	if err := p.Wait(); err != nil {
		return err
	}
	fmt.Println(num.Load())
	out := make([]int32, arr.Len())
	arr.CopyTo(out)
	fmt.Println(out)
	return nil
}

// rangeInt32 is Python's range(n) as a slice.
func rangeInt32(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}
