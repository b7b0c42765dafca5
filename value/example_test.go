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
// CompareAndSwap; for any other T they do not compile.
func ExampleAdd() {
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
	value.Add(hits, 3)
	fmt.Println(value.Add(hits, 1), value.CompareAndSwap(hits, 4, 10), hits.Load())
	// Output: 4 true 10
}

// Python's most written idiom, "with v.get_lock(): v.value += 1", in its
// two Go forms: Update, or Lock, which returns the Locked through which the
// holder reads and writes. (v.Lock(); v.Store(v.Load()+1) would wait for
// the lock it holds: Store panics after a second, saying so.)
func ExampleLocked() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-value-lock-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	v, err := value.Create(seg, "counter", 0.5)
	if err != nil {
		log.Fatal(err)
	}
	v.Update(func(p *float64) { *p += 1 })

	l := v.Lock()         // with v.get_lock():
	l.Store(l.Load() + 1) //     v.value += 1
	l.Unlock()
	fmt.Println(v.Load())
	// Output: 2.5
}

// A RawValue has no lock: its users order the processes themselves.
func ExampleRawValue() {
	seg, err := shm.Create(fmt.Sprintf("shmkit-example-rawvalue-%d", os.Getpid()), 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()

	r, err := value.CreateRaw[int32](seg, "answer", 41)
	if err != nil {
		log.Fatal(err)
	}
	*r.Ptr()++ // zero-copy, unsynchronised
	r.Store(r.Load() * 1)
	fmt.Println(r.Load())
	// Output: 42
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

// New is Python's Value('i', 0): no segment, no name, no size. The Value
// lives in this process's heap of shared memory and reaches worker
// processes as an argument of process.Start; Close gives it up.
func ExampleNew() {
	counter, err := value.New[int32](0)
	if err != nil {
		log.Fatal(err)
	}
	defer counter.Close()

	value.Add(counter, 5)
	counter.Update(func(p *int32) { *p *= 2 })
	fmt.Println(counter.Load())
	// Output: 10
}

// NewRaw is Python's RawValue: no lock, its users synchronise it.
func ExampleNewRaw() {
	r, err := value.NewRaw(3.5)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.Store(r.Load() * 2)
	fmt.Println(r.Load())
	// Output: 7
}
