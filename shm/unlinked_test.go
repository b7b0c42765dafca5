package shm_test

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// gate decodes only once the parent writes a byte on the worker's first
// passed file: what follows it in the arguments decodes after that.
type gate struct{}

func (gate) GobEncode() ([]byte, error) { return []byte{0}, nil }

func (*gate) GobDecode([]byte) error {
	var b [1]byte
	_, err := io.ReadFull(process.File(0), b[:])
	return err
}

type gatedArgs struct {
	Gate gate
	Seg  *shm.Segment
}

// lateAttacher attaches to its segment only once the parent lets it, and
// reads the byte the parent wrote.
var lateAttacher = process.Register("shm-test-late-attacher", func(ctx context.Context, a gatedArgs) error {
	defer a.Seg.Close()
	if b := a.Seg.Bytes()[0]; b != 0x5a {
		return errors.New("the worker's segment is not the parent's")
	}
	return nil
})

// A named segment handed to a worker reaches it even when its creator
// unlinks the name once Start has returned, before the worker has decoded
// its arguments (the creator's "defer seg.Unlink()", or shmkit gc after
// the creator died): from Start on the worker is the segment's peer.
func TestSegmentUnlinkedAfterStart(t *testing.T) {
	s := shmtest.Segment(t, 4096)
	s.Bytes()[0] = 0x5a
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p, err := lateAttacher.Start(context.Background(), gatedArgs{Seg: s}, process.WithFiles(r))
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{1})
	if err := p.Wait(); err != nil {
		t.Fatalf("a worker given a segment that was unlinked after Start: %v", err)
	}
}
