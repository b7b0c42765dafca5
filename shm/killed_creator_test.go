package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// killedCreator creates the segment a.Name and tells the parent, on the
// file passed it, when Create is writing the header; it waits there to be
// killed.
var killedCreator = process.Register("shm-test-killed-creator", func(ctx context.Context, a openArgs) error {
	ready := process.File(0)
	shm.SetHeaderWrite(func() {
		ready.Write([]byte{1})
		time.Sleep(time.Hour) // SIGKILLed here
	})
	_, err := shm.Create(a.Name, 1<<16, shm.WithDir(a.Dir))
	return fmt.Errorf("Create returned (%v) past the hook", err)
})

// A creator SIGKILLed inside Create, its file made and reserved but its
// header not yet published, must leave nothing that nobody can remove:
// either no file under the name, or one that Collect (shmkit gc) removes.
func TestCreatorKilledLeavesNothing(t *testing.T) {
	name := shmtest.Name(t)
	path := filepath.Join(shm.DefaultDir, name)
	t.Cleanup(func() { os.Remove(path) })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := killedCreator.Start(context.Background(), openArgs{Name: name, Dir: shm.DefaultDir}, process.WithFiles(w))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		t.Fatalf("the creator never reached its header: %v (Wait: %v)", err, p.Wait())
	}
	p.Kill()
	p.Wait()
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return // nothing left
	}
	got, err := shm.Collect(true)
	if err != nil {
		t.Logf("Collect: %v", err)
	}
	for _, c := range got {
		if c.Name == name && c.Removed {
			return // gc removes it
		}
	}
	t.Fatalf("a creator killed inside Create left %s behind, and Collect (shmkit gc) would not remove it", path)
}
