package value_test

import (
	"fmt"
	"log"
	"os"

	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

// A Value holds any fixed-size, pointer-free T; Load never blocks and
// never sees a half-written T, Update is a read-modify-write under the
// value's lock.
func ExampleValue() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-value-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	type position struct{ X, Y, Z float64 }
	pos, err := value.Create(seg, "pos", position{X: 1})
	if err != nil {
		log.Fatal(err)
	}
	pos.Update(func(p *position) { p.Y = p.X + 1 })
	fmt.Println(pos.Load())

	// Another process opens it by name, or receives it as a worker
	// argument; opening with another T is refused.
	_, err = value.Open[int32](seg, "pos")
	fmt.Println(err != nil)
	// Output:
	// {1 2 0}
	// true
}

// Integer Values of 4 or 8 bytes have lock-free Add, Swap and
// CompareAndSwap.
func ExampleValue_Add() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-value-add-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	hits, err := value.Create[int64](seg, "hits", 0)
	if err != nil {
		log.Fatal(err)
	}
	hits.Add(3)
	fmt.Println(hits.Add(1), hits.CompareAndSwap(4, 10), hits.Load())
	// Output: 4 true 10
}

// A struct holding a slice cannot live in shared memory; the error names
// the field.
func ExampleCreate_refused() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-value-refused-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	type message struct {
		ID   int64
		Tags []string
	}
	_, err = value.Create(seg, "msg", message{})
	fmt.Println(err)
	// Output: value: shm: type is not fixed-size and pointer-free: value_test.message.Tags is a slice ([]string), which cannot live in shared memory
}
