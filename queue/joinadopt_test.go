package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/queue"
)

// TestJoinConsumerKilledMidGetAlone SIGKILLs the only consumer inside Get,
// its message claimed and not yet handed over, and nobody else consumes:
// Join must report that every consumer has exited (ErrPeerDead), as it
// does for tasks left in the ring, not wait on.
func TestJoinConsumerKilledMidGetAlone(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[gated]{MaxSize: 8, Codec: gateCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	if err := q.Put(ctx, gated{V: 1, Block: 2}); err != nil { // the one the child stops inside
		t.Fatal(err)
	}
	killHeld(t, ctx, gatedGet, q)
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Join(jctx); !errors.Is(err, queue.ErrPeerDead) {
		t.Fatalf("Join with the only consumer killed holding a claimed task = %v, want ErrPeerDead", err)
	}
}
