package queue_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/shmkit/shmkit/queue"
)

// TestMessageOverMaxBytesFitsEmptyQueue: Options.MaxBytes promises that a
// message always fits an empty queue, however large. An out-of-line
// message is placed in the arena before the bound is checked, and the
// check counted its own block as bytes already queued: a message larger
// than MaxBytes never fitted, and its Put waited for room that no Get
// could make, for ever (TryPut said no room on an empty queue). Put is
// given a context that is done already: it tries once and returns nil
// only when the message went in.
func TestMessageOverMaxBytesFitsEmptyQueue(t *testing.T) {
	q, err := queue.New(queue.Options[[]byte]{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	big := bytes.Repeat([]byte{7}, 2<<20)
	if ok, err := q.TryPut(big); !ok || err != nil {
		t.Errorf("TryPut of 2 MiB into an empty queue of MaxBytes 1 MiB: %v, %v; want it in", ok, err)
	}
	if q.Len() == 1 {
		if v, err := q.Get(ctxT(t)); err != nil || !bytes.Equal(v, big) {
			t.Fatalf("Get = %d bytes, %v", len(v), err)
		}
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Put(done, big); err != nil {
		t.Errorf("Put of 2 MiB into an empty queue of MaxBytes 1 MiB: %v, want it in at once", err)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("%d messages queued, want 1", n)
	}
	// The bound holds once the queue is not empty.
	if ok, err := q.TryPut([]byte("small")); ok || err != nil {
		t.Fatalf("TryPut past MaxBytes into a queue holding 2 MiB: %v, %v; want no room", ok, err)
	}
	if v, err := q.Get(ctxT(t)); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("Get = %d bytes, %v", len(v), err)
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("%d arena bytes in use on an empty queue", u)
	}
}
