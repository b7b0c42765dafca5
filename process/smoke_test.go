package process_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type segArgs struct {
	Seg  *shm.Segment
	Anon *shm.Segment
	N    int
}

var writer = process.Register("smoke-writer", func(ctx context.Context, a segArgs) error {
	a.Seg.Bytes()[0] = byte(a.N)
	a.Anon.Bytes()[0] = byte(a.N + 1)
	return nil
})

var panicker = process.Register("smoke-panic", func(ctx context.Context, a int) error { panic("boom") })

func TestMain(m *testing.M) {
	forgetMain() // only in the children of TestNoMain
	process.Main()
	os.Exit(m.Run())
}

func TestSmoke(t *testing.T) {
	s, err := shm.Create("proc-smoke", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlink()
	an, err := shm.CreateAnon(4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Run(context.Background(), segArgs{Seg: s, Anon: an, N: 42}); err != nil {
		t.Fatal(err)
	}
	if s.Bytes()[0] != 42 || an.Bytes()[0] != 43 {
		t.Fatal("child writes not seen", s.Bytes()[0], an.Bytes()[0])
	}
	err = panicker.Run(context.Background(), 1, process.WithStderr(new(nopW)))
	if !errors.Is(err, process.ErrPanicked) {
		t.Fatal(err)
	}
	t.Log(err)
}

type nopW struct{}

func (nopW) Write(b []byte) (int, error) { return len(b), nil }
