package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestCorruptReferenceIsNoTask: a slot of a joinable queue that holds a
// corrupt out-of-line reference (garbage written by a buggy or hostile
// peer) is consumed and reported, and no message reaches the caller: Get
// and GetFunc alike must leave no task to mark done. GetFunc counted one
// (its use never ran), so the count stayed at one and a Join waited for a
// TaskDone that a caller told of an error has no reason to make: for ever,
// while a consumer lived.
func TestCorruptReferenceIsNoTask(t *testing.T) {
	gets := map[string]func(ctx context.Context, q *queue.Joinable[[]byte]) error{
		"Get": func(ctx context.Context, q *queue.Joinable[[]byte]) error {
			_, err := q.Get(ctx)
			return err
		},
		"GetFunc": func(ctx context.Context, q *queue.Joinable[[]byte]) error {
			return q.GetFunc(ctx, func([]byte) error {
				t.Error("GetFunc handed a corrupt reference's message to use")
				return nil
			})
		},
	}
	for name, get := range gets {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			q, err := queue.NewJoinable(queue.Options[[]byte]{MaxSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if err := q.Put(ctx, []byte("attach")); err != nil { // attaches both sides
				t.Fatal(err)
			}
			if _, err := q.Get(ctx); err != nil {
				t.Fatal(err)
			}
			if err := q.TaskDone(); err != nil {
				t.Fatal(err)
			}
			peer, err := ringbuf.OpenMPMC(q.Segment(), queue.RingName(q.Queue))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			// A reference is a record of exactly the slot's size; zeros
			// have no reference's magic.
			if ok, err := peer.TryPut(make([]byte, peer.SlotBytes())); !ok || err != nil {
				t.Fatalf("raw TryPut = %v, %v", ok, err)
			}
			if n := q.Unfinished(); n != 1 {
				t.Fatalf("%d tasks unfinished before the Get, want 1", n)
			}
			if err := get(ctx, q); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("%s of a corrupt reference = %v, want ErrCorrupt", name, err)
			}
			if n := q.Unfinished(); n != 0 {
				t.Errorf("%d tasks unfinished after %s reported the corrupt reference, want 0", n, name)
			}
			done, cancel := context.WithCancel(ctx)
			cancel() // Join looks once: the count is zero, or it returns ctx's error
			if err := q.Join(done); err != nil {
				t.Errorf("Join after the corrupt reference: %v, want nil (no task left)", err)
			}
		})
	}
}
