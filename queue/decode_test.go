package queue_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
)

type flagged struct {
	V int64
	B bool
}

// TestGetBinaryDecodeError: a message that does not decode (a bool byte of
// 2, written into the ring by a buggy or hostile peer) is consumed and
// reported as codec.ErrDecode by a Get that finds it at once (the binary
// codec's path under the ring's handle lock), and the next Get gets the
// message after it; nothing is lost or got twice.
func TestGetBinaryDecodeError(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[flagged]{MaxSize: 8, Codec: codec.MustBinary[flagged]()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := ctxT(t)
	if err := q.Put(ctx, flagged{V: 1}); err != nil { // attaches both sides
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); v.V != 1 || err != nil {
		t.Fatalf("Get = %+v, %v", v, err)
	}
	peer, err := ringbuf.OpenMPMC(seg, "q.r")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	bad := make([]byte, 16)
	bad[0], bad[8] = 2, 2 // V 2, B neither 0 nor 1
	if ok, err := peer.TryPut(bad); !ok || err != nil {
		t.Fatalf("raw TryPut = %v, %v", ok, err)
	}
	if err := q.Put(ctx, flagged{V: 3, B: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("Get of a bool byte 2 = %+v, %v; want codec.ErrDecode", v, err)
	}
	if v, err := q.Get(ctx); v != (flagged{V: 3, B: true}) || err != nil {
		t.Fatalf("Get after the bad message = %+v, %v; want {3 true}", v, err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}
