package shm_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/shm"
)

// TestWithSparse: the sparse tail of a new segment is part of its size but
// not reserved, and an object placed there with ObjectSpec.Sparse is not
// zeroed (which would reserve it).
func TestWithSparse(t *testing.T) {
	const tail = 1 << 30
	seg, err := shm.CreateAnon(tail+64<<10, shm.WithSparse(tail))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if seg.Size() < tail {
		t.Fatalf("object area of %d bytes, want at least %d", seg.Size(), tail)
	}
	obj, err := seg.Alloc("tail", shm.ObjectSpec{BodySize: tail - 4096, Sparse: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(seg.File().Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size < tail {
		t.Fatalf("file of %d bytes, want at least %d", st.Size, tail)
	}
	if used := st.Blocks * 512; used > 1<<20 {
		t.Fatalf("a 1 GiB sparse tail made the file use %d bytes", used)
	}
	obj.Body[len(obj.Body)-1] = 1 // the tail is mapped and writable
}
