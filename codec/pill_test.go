package codec_test

import (
	"context"
	"os"
	"testing"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

type pillArgs struct {
	Tasks   *queue.Queue[*int] // default codec: Gob, with its nil flag
	Results *queue.Queue[int]
}

// squarer is Python's worker loop: it squares tasks until the None pill.
var squarer = process.Register("codec-test-squarer", func(ctx context.Context, a pillArgs) error {
	for {
		n, err := a.Tasks.Get(ctx)
		if err != nil {
			return err
		}
		if n == nil { // the pill
			return a.Results.Put(ctx, -1)
		}
		if err := a.Results.Put(ctx, *n**n); err != nil {
			return err
		}
	}
})

// TestNilPillAcrossProcesses sends Python's None poison pill, a nil *int,
// through a queue to a worker process: it must arrive as nil, not as a
// pointer to 0 (which would be squared like a task).
func TestNilPillAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	tasks, err := queue.New(queue.Options[*int]{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := queue.New(queue.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := squarer.Start(ctx, pillArgs{Tasks: tasks, Results: results})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 0, 3} {
		if err := tasks.Put(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	if err := tasks.Put(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var got []int
	for {
		r, err := results.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r == -1 {
			break
		}
		got = append(got, r)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 4 || got[1] != 0 || got[2] != 9 {
		t.Fatalf("results %v, want [4 0 9]: the pill was taken for a task", got)
	}
}
