package shm_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/shmkit/shmkit/shm"
)

// Create a named segment, open it again (as another process would), and
// see one mapping's writes through the other.
func ExampleCreate() {
	name := fmt.Sprintf("shmkit-example-%d", os.Getpid())
	seg, err := shm.Create(name, 4096)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	defer seg.Unlink() // the name outlives every process until unlinked

	other, err := shm.Open(name)
	if err != nil {
		panic(err)
	}
	defer other.Close()
	copy(seg.Bytes(), "hello")
	fmt.Println(string(other.Bytes()[:5]), other.Size() >= 4096)
	// Output:
	// hello true
}

// Several named objects share a segment; Lookup finds one by name and
// checks that it is what the caller expects.
func ExampleSegment_Alloc() {
	seg, err := shm.CreateAnon(1 << 16)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	spec := shm.ObjectSpec{Kind: shm.KindBytes, Version: 1, Capacity: 16, BodySize: 16}
	if _, err := seg.Alloc("greeting", spec, func(body []byte) error {
		copy(body, "hi there")
		return nil
	}); err != nil {
		panic(err)
	}

	o, err := seg.Lookup("greeting", &spec)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(o.Body[:8]), o.Offset%shm.CacheLine == 0)

	wrong := spec
	wrong.Kind = shm.KindValue
	_, err = seg.Lookup("greeting", &wrong)
	fmt.Println(errors.Is(err, shm.ErrIncompatible))
	// Output:
	// hi there true
	// true
}

// Names are checked before anything touches the file system.
func ExampleValidateName() {
	for _, name := range []string{"orders", "../etc/passwd", ""} {
		fmt.Println(errors.Is(shm.ValidateName(name), shm.ErrInvalidName))
	}
	// Output:
	// false
	// true
	// true
}

// Attach maps the segment a handle names once per process, however many
// objects are decoded from handles to it; each caller closes the Segment
// it got, and the mapping goes with the last.
func ExampleAttach() {
	name := fmt.Sprintf("shmkit-example-attach-%d", os.Getpid())
	seg, err := shm.Create(name, 4096)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	copy(seg.Bytes(), "shared")
	h, err := seg.Handle()
	if err != nil {
		panic(err)
	}

	a, err := shm.Attach(h) // as a decoded queue would
	if err != nil {
		panic(err)
	}
	b, err := shm.Attach(h) // as a decoded ring would: the same mapping
	if err != nil {
		panic(err)
	}
	a.Close() // a is done; b still reads
	fmt.Println(string(b.Bytes()[:6]))
	b.Close() // the last: unmapped
	// Output:
	// shared
}

// CreateAnon makes a segment with no name: nothing to unlink, nothing left
// in /dev/shm; it reaches workers as an argument of process.Start.
func ExampleCreateAnon() {
	seg, err := shm.CreateAnon(4096)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	copy(seg.Bytes(), "anonymous")
	fmt.Println(seg.Name() == "", seg.Path(), string(seg.Bytes()[:9]))
	// Output:
	// true memfd:shmkit anonymous
}

// List finds the shmkit segments of a directory, here a scratch one rather
// than /dev/shm, and says whose they are.
func ExampleList() {
	dir, err := os.MkdirTemp("", "shmkit-example-list")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"beta", "alpha"} {
		seg, err := shm.Create(name, 4096, shm.WithDir(dir))
		if err != nil {
			panic(err)
		}
		defer seg.Close()
	}
	infos, err := shm.List(shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	for _, in := range infos {
		fmt.Println(in.Name, in.CreatorPID == os.Getpid(), in.CreatorAlive)
	}
	// Output:
	// alpha true true
	// beta true true
}

// Collect unlinks segments whose creator has died; a live creator's are
// left alone (and not reported).
func ExampleCollect() {
	dir, err := os.MkdirTemp("", "shmkit-example-collect")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	seg, err := shm.Create("mine", 4096, shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	collected, err := shm.Collect(false, shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	infos, _ := shm.List(shm.WithDir(dir))
	fmt.Println(len(collected), "collected;", len(infos), "left")
	// Output:
	// 0 collected; 1 left
}

// Every object header names its kind; Kind prints as the kind's name.
func ExampleKind() {
	fmt.Println(shm.KindQueue, shm.KindMutex)
	// Output: queue mutex
}

// An element type's fingerprint: size, alignment and a hash of its name.
// Objects compare it when a process attaches, so a Value[int64] is never
// read as a Value[float64].
func ExampleTypeID() {
	fmt.Println(shm.TypeID{Size: 8, Align: 8, Hash: 0x1234})
	// Output: {size 8, align 8, hash 0x0000000000001234}
}

// Objects lists a segment's directory with each object's decoded header;
// Check compares a header with what the caller expects.
func ExampleObjectHeader() {
	seg, err := shm.CreateAnon(1 << 16)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	spec := shm.ObjectSpec{Kind: shm.KindBytes, Version: 1, Capacity: 100, BodySize: 100}
	if _, err := seg.Alloc("buf", spec, nil); err != nil {
		panic(err)
	}
	for _, o := range seg.Objects() {
		fmt.Println(o.Name, o.Header.Kind, o.Header.BodySize, o.Header.Check(&spec))
		other := spec
		other.Kind = shm.KindValue
		fmt.Println(errors.Is(o.Header.Check(&other), shm.ErrIncompatible))
	}
	// Output:
	// buf bytes 100 <nil>
	// true
}
