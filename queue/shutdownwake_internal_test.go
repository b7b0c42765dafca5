package queue

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// decodeHooked is a message whose codec runs decodeHook inside Decode:
// its Get holds the message claimed there.
type decodeHooked struct{ V int64 }

type hookCodec struct{}

var decodeHook func()

func (hookCodec) Size(*decodeHooked) int { return 8 }
func (hookCodec) Append(dst []byte, v *decodeHooked) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V)), nil
}
func (hookCodec) Decode(src []byte, v *decodeHooked) error {
	v.V = int64(binary.LittleEndian.Uint64(src))
	if h := decodeHook; h != nil {
		h()
	}
	return nil
}
func (hookCodec) CodecName() string { return "queue-test-decode-hook" }

// TestShutdownGetWokenWhenTheLastClaimEnds: on a shut-down queue, a Get
// that finds nothing to take while another consumer holds the last
// message claimed (decoding it, or in GetFunc's use) waits: that claim
// may yet come back to the queue (its consumer killed, the message
// adopted). It waits on notEmpty, and the claim's end (the slot given
// back) notified only notFull, so the Get slept on until its poll, 50 ms
// later, before it returned ErrShutdown. The sleeper is the sleep bit of
// notEmpty, set by hand while the message is claimed; the wake is the bit
// cleared.
func TestShutdownGetWokenWhenTheLastClaimEnds(t *testing.T) {
	gets := map[string]func(ctx context.Context, q *Queue[decodeHooked]) error{
		"Get": func(ctx context.Context, q *Queue[decodeHooked]) error {
			_, err := q.Get(ctx)
			return err
		},
		"GetBatch": func(ctx context.Context, q *Queue[decodeHooked]) error {
			_, err := q.GetBatch(ctx, make([]decodeHooked, 4))
			return err
		},
		"GetFunc": func(ctx context.Context, q *Queue[decodeHooked]) error {
			return q.GetFunc(ctx, func([]byte) error { decodeHook(); return nil })
		},
	}
	for name, get := range gets {
		t.Run(name, func(t *testing.T) {
			testShutdownWake(t, Options[decodeHooked]{MaxSize: 8, Codec: hookCodec{}}, get, func(h func()) { decodeHook = h })
		})
	}
	t.Run("GetFast", func(t *testing.T) {
		get := func(ctx context.Context, q *Queue[int64]) error {
			_, err := q.Get(ctx)
			return err
		}
		testShutdownWake(t, Options[int64]{MaxSize: 8}, get, func(h func()) { testHookFast = h })
	})
}

func testShutdownWake[T any](t *testing.T, o Options[T], get func(ctx context.Context, q *Queue[T]) error, setHook func(func())) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seg := shmtest.Segment(t, 1<<20)
	c1, err := Create(seg, "q", o)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := Open(seg, "q", o)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var v T
	for range 2 {
		if err := c1.Put(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c1.GetInto(ctx, &v); err != nil { // c1 a consumer: its next Get may go uncounted
		t.Fatal(err)
	}
	asleep := uint32(0)
	seq := c2.ctl.notEmpty.Seq
	setHook(func() { // c1 holds the last message claimed
		setHook(nil)
		if err := c2.Shutdown(); err != nil {
			t.Error(err)
		}
		if _, ok, err := c2.TryGet(); ok || err != nil {
			t.Errorf("a Get while the last message is claimed: %v, %v; want nothing yet, and no ErrShutdown", ok, err)
		}
		asleep = seq.Load() | 1
		seq.Store(asleep) // c2's Get asleep on the shut-down queue
	})
	defer setHook(nil)
	if err := get(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if asleep == 0 {
		t.Fatal("the Get never held the message claimed")
	}
	if seq.Load() == asleep {
		t.Error("the last claim ended on a shut-down queue and woke no Get")
	}
	if _, _, err := c2.TryGet(); err != ErrShutdown {
		t.Fatalf("a Get once the queue is drained: %v, want ErrShutdown", err)
	}
}
