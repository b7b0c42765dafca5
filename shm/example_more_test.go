package shm_test

import (
	"fmt"
	"os"

	"github.com/shmkit/shmkit/shm"
)

// An anonymous segment has no name in /dev/shm: it reaches a worker process
// among its arguments (package process passes its descriptor).
func ExampleCreateAnon() {
	seg, err := shm.CreateAnon(4096)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	copy(seg.Bytes(), "anon")
	fmt.Println(seg.Name() == "", string(seg.Bytes()[:4]))
	// Output: true anon
}

// List shows the shmkit segments of a directory (/dev/shm unless WithDir
// says otherwise), as `shmkit ls` does.
func ExampleList() {
	dir, _ := os.MkdirTemp("", "shm-example-")
	defer os.RemoveAll(dir)
	seg, err := shm.Create("listed", 4096, shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	infos, err := shm.List(shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	for _, i := range infos {
		fmt.Println(i.Name, i.CreatorPID == os.Getpid(), i.CreatorAlive)
	}
	// Output: listed true true
}

// Collect unlinks the segments whose creator has died, as `shmkit gc`
// does; a segment of a live creator is left alone (and not reported).
func ExampleCollect() {
	dir, _ := os.MkdirTemp("", "shm-example-")
	defer os.RemoveAll(dir)
	seg, err := shm.Create("in-use", 4096, shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	got, err := shm.Collect(true, shm.WithDir(dir)) // dry run: report only
	fmt.Println(len(got), err)
	// Output: 0 <nil>
}

// Attach maps the segment a Handle names: how a worker finds the segments
// among its arguments. Here the handle comes from this very process.
func ExampleAttach() {
	dir, _ := os.MkdirTemp("", "shm-example-")
	defer os.RemoveAll(dir)
	seg, err := shm.Create("attached", 4096, shm.WithDir(dir))
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	h, err := seg.Handle()
	if err != nil {
		panic(err)
	}
	other, err := shm.Attach(h) // see Attach for who closes it
	if err != nil {
		panic(err)
	}
	copy(other.Bytes(), "via the handle")
	fmt.Println(h.Name, string(seg.Bytes()[:14]))
	// Output: attached via the handle
}
