package queue_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/queue"
)

// TestJoinReportsTasksCountedOutBeforeIt: a consumer SIGKILLed between
// its Get and its TaskDone takes its task with it, and Join must say so
// (ErrPeerDead). Whoever first notices the death counts the task out:
// Join's poll, but also Unfinished, or the first Get of a process that
// takes the dead one's task record (a worker started in its place). Join
// reported only the tasks counted out while it waited: one counted out
// before it began was reported by nobody, and Join returned nil, the task
// lost in silence. Here Unfinished notices the death first.
func TestJoinReportsTasksCountedOutBeforeIt(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	if err := q.Put(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := startHeld(t, ctx, getThenHold, q) // it got the task and holds it
	if err := q.Put(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); v != 2 || err != nil {
		t.Fatalf("Get = %d, %v", v, err)
	}
	if err := q.TaskDone(); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait()
	if n := q.Unfinished(); n != 0 {
		t.Fatalf("%d unfinished once the dead consumer's task is counted out, want 0", n)
	}
	if err := q.Join(ctx); !errors.Is(err, queue.ErrPeerDead) {
		t.Fatalf("Join after a dead consumer's task was counted out = %v, want ErrPeerDead", err)
	}
	if err := q.Join(ctx); err != nil {
		t.Fatalf("second Join = %v, want nil (the loss was reported)", err)
	}
}
