// Array-range is the shared-memory example of Python's multiprocessing
// documentation, with the array built from range(50): the child sets a
// shared float and negates every element of a shared array, and the parent
// prints both.
//
//	def f(n, a):
//	    n.value = 3.1415927
//	    for i in range(len(a)):
//	        a[i] = -a[i]
//
//	num = Value('d', 0.0)
//	arr = Array('i', range(50))
//	p = Process(target=f, args=(num, arr)); p.start(); p.join()
//	print(num.value)
//	print(arr[:])
//
// Output:
//
//	3.1415927
//	[0 -1 -2 … -49]
//
// The child negates the elements in place, through the array's zero-copy
// view, inside With: one write under the array's lock.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

type fArgs struct {
	N *value.Value[float64]
	A *array.Array[int32]
}

var f = process.Register("f", func(ctx context.Context, a fArgs) error {
	a.N.Store(3.1415927)
	a.A.With(func(s []int32) {
		for i := range s {
			s[i] = -s[i]
		}
	})
	return nil
})

func main() {
	process.Main() // runs f when this program was started as a worker
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-array-range-%d", os.Getpid()), 4096)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()

	num, err := value.Create(seg, "num", 0.0)
	if err != nil {
		return err
	}
	arr, err := array.CreateFrom(seg, "arr", rangeInt32(50))
	if err != nil {
		return err
	}
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
