package shm_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/fdexport"
	"github.com/shmkit/shmkit/shm"
)

// TestHandleInPlace: a handle made under fdexport.RunInPlace names this
// process's descriptor of an anonymous segment, which Attach opens through
// /proc and maps (the same memory); a handle whose inode is not the
// descriptor's file's any more is refused.
func TestHandleInPlace(t *testing.T) {
	s, err := shm.CreateAnon(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var h shm.Handle
	if err := fdexport.RunInPlace(func() (err error) { h, err = s.Handle(); return err }); err != nil {
		t.Fatal(err)
	}
	if h.Pid == 0 || h.Ino == 0 {
		t.Fatalf("handle %+v names no descriptor of this process", h)
	}
	a, err := shm.Attach(h)
	if err != nil {
		t.Fatal(err)
	}
	s.Bytes()[0] = 42
	if a.Bytes()[0] != 42 {
		t.Fatal("the segment opened through /proc is another memory")
	}
	a.Close()
	h.Ino++
	if _, err := shm.Attach(h); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("a handle of another inode: %v", err)
	}
}
