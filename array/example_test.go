package array_test

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/shm"
)

// Python's Array('i', range(10)), doubled in place under the lock through
// the zero-copy view, and read back.
func ExampleArray() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-array-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	vals := make([]int32, 10)
	for i := range vals {
		vals[i] = int32(i)
	}
	a, err := array.CreateFrom(seg, "a", vals)
	if err != nil {
		log.Fatal(err)
	}
	a.With(func(s []int32) {
		for i := range s {
			s[i] *= 2
		}
	})
	a.Set(0, -1)
	fmt.Println(a.Len(), a.At(0), a.At(9))
	var sum int32
	for _, x := range a.All() {
		sum += x
	}
	fmt.Println(sum)
	// Output:
	// 10 -1 18
	// 89
}

// An Array[byte] is an io.ReaderAt and io.WriterAt over shared memory.
func ExampleArray_ReadAt() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-array-bytes-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	buf, err := array.Create[byte](seg, "buf", 16)
	if err != nil {
		log.Fatal(err)
	}
	w := io.NewOffsetWriter(buf, 0)
	fmt.Fprintf(w, "hello, %s", "shm")
	b, _ := io.ReadAll(io.NewSectionReader(buf, 7, 3))
	fmt.Printf("%s\n", b)
	// Output: shm
}

// Python's "with a.get_lock(): a[0] += 1": Lock returns the Locked through
// which the holder reads and writes elements.
func ExampleLocked() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-array-lock-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	a, err := array.CreateFrom(seg, "a", []int64{41, 1})
	if err != nil {
		log.Fatal(err)
	}
	l := a.Lock()             // with a.get_lock():
	l.Set(0, l.At(0)+l.At(1)) //     a[0] += a[1]
	l.Unlock()
	fmt.Println(a.At(0))
	// Output: 42
}

// A RawArray has no lock: its users order the processes themselves, here
// one writer that finishes before the reader starts.
func ExampleRawArray() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-rawarray-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	r, err := array.CreateRaw[float64](seg, "r", 4)
	if err != nil {
		log.Fatal(err)
	}
	for i := range r.Slice() { // zero-copy, unsynchronised
		r.Slice()[i] = float64(i) / 2
	}
	r.Set(3, 9)
	sum := 0.0
	for _, x := range r.All() {
		sum += x
	}
	fmt.Println(r.Len(), sum)
	// Output: 4 10.5
}

// New is Python's Array('i', 4): no segment, no name, no size; NewFrom
// is Array('i', range(4)). The Array lives in this process's heap of
// shared memory and reaches worker processes as an argument of
// process.Start; Close gives it up.
func ExampleNew() {
	a, err := array.New[int32](4)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	a.Set(2, 7)
	fmt.Println(a.Slice())
	// Output: [0 0 7 0]
}

func ExampleNewFrom() {
	a, err := array.NewFrom([]float64{0, 1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	a.With(func(s []float64) {
		for i := range s {
			s[i] *= s[i]
		}
	})
	fmt.Println(a.Slice())
	// Output: [0 1 4 9]
}

// NewRawFrom is Python's RawArray('d', ...): no lock.
func ExampleNewRawFrom() {
	r, err := array.NewRawFrom([]int64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.Set(0, 10)
	fmt.Println(r.Slice(), r.Len())
	// Output: [10 2 3] 3
}
