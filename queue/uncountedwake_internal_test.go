package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// refused is a value whose codec refuses to decode a message holding
// refuseOnDecode.
type refused struct{ V int64 }

type refuseCodec struct{}

const refuseOnDecode = 1 << 41

var errRefused = errors.New("queue test: refused to decode")

func (refuseCodec) Size(*refused) int { return 8 }
func (refuseCodec) Append(dst []byte, v *refused) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V)), nil
}
func (refuseCodec) Decode(src []byte, v *refused) error {
	v.V = int64(binary.LittleEndian.Uint64(src))
	if v.V == refuseOnDecode {
		return errRefused
	}
	return nil
}
func (refuseCodec) CodecName() string { return "queue-test-refuse" }

// TestUncountedGetWakesJoin: a Get that consumes a message without handing
// it over (it does not decode, the codec or GetFunc's callback panics)
// takes a task off the count a Join waits on: the message leaves the
// ring's outstanding ones and enters no process's record (nobody will mark
// it done). The count may reach zero there, so the Join must be woken; it
// was not, and slept on until its poll, 50 ms later: a Join whose last
// task failed to decode returned up to 50 ms late. The sleeper is the
// sleep bit of join, set by hand; the wake is the bit cleared.
func TestUncountedGetWakesJoin(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T){
		"Get": func(t *testing.T) {
			q := joinableWith(t, refuseCodec{}, refused{V: refuseOnDecode})
			checkJoinWoken(t, q.Queue, func() {
				if _, err := q.Get(ctx); !errors.Is(err, errRefused) {
					t.Fatalf("Get = %v, want %v", err, errRefused)
				}
			})
		},
		"TryGet": func(t *testing.T) {
			q := joinableWith(t, refuseCodec{}, refused{V: refuseOnDecode})
			checkJoinWoken(t, q.Queue, func() {
				if _, _, err := q.TryGet(); !errors.Is(err, errRefused) {
					t.Fatalf("TryGet = %v, want %v", err, errRefused)
				}
			})
		},
		"GetBatch": func(t *testing.T) {
			q := joinableWith(t, refuseCodec{}, refused{V: refuseOnDecode})
			checkJoinWoken(t, q.Queue, func() {
				if _, err := q.GetBatch(ctx, make([]refused, 4)); !errors.Is(err, errRefused) {
					t.Fatalf("GetBatch = %v, want %v", err, errRefused)
				}
			})
		},
		"GetCodecPanic": func(t *testing.T) {
			q := joinableWith(t, boomCodec{}, boom{V: panicOnDecode})
			checkJoinWoken(t, q.Queue, func() { mustPanic(t, "Get", func() { q.Get(ctx) }) })
		},
		"GetBatchCodecPanic": func(t *testing.T) {
			q := joinableWith(t, boomCodec{}, boom{V: panicOnDecode})
			checkJoinWoken(t, q.Queue, func() {
				mustPanic(t, "GetBatch", func() { q.GetBatch(ctx, make([]boom, 4)) })
			})
		},
		"GetFuncPanic": func(t *testing.T) {
			q := joinableWith(t, boomCodec{}, boom{V: 1})
			checkJoinWoken(t, q.Queue, func() {
				mustPanic(t, "GetFunc", func() { q.GetFunc(ctx, func([]byte) error { panic("callback bug") }) })
			})
		},
		"GetFast": func(t *testing.T) {
			// The binary codec's uncounted Get, taken once this process
			// holds a task record (its first Get takes one).
			q := joinableWith(t, codec.MustBinary[flaggedBool](), flaggedBool{V: 1})
			if v, err := q.Get(ctx); v.V != 1 || err != nil {
				t.Fatalf("Get = %+v, %v", v, err)
			}
			if err := q.TaskDone(); err != nil {
				t.Fatal(err)
			}
			peer, err := ringbuf.OpenMPMC(q.seg, ringName(q.name))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			bad := make([]byte, 16)
			bad[0], bad[8] = 2, 2 // V 2, B neither 0 nor 1
			if ok, err := peer.TryPut(bad); !ok || err != nil {
				t.Fatalf("raw TryPut = %v, %v", ok, err)
			}
			if !q.fast || q.task.Load() == nil {
				t.Fatal("the next Get would not take the uncounted path")
			}
			checkJoinWoken(t, q.Queue, func() {
				if _, err := q.Get(ctx); !errors.Is(err, codec.ErrDecode) {
					t.Fatalf("Get = %v, want codec.ErrDecode", err)
				}
			})
		},
	}
	for name, run := range cases {
		t.Run(name, run)
	}
}

type flaggedBool struct {
	V int64
	B bool
}

// joinableWith returns a new joinable queue of c holding v, put by this
// process.
func joinableWith[T any](t *testing.T, c codec.Codec[T], v T) *Joinable[T] {
	t.Helper()
	seg := shmtest.Segment(t, 1<<20)
	q, err := CreateJoinable(seg, "q", Options[T]{MaxSize: 8, Codec: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Put(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return q
}

// checkJoinWoken runs get, which consumes q's one task without handing
// it over, with a Join's sleep bit set, and fails t unless the count is
// back to zero and the bit was cleared.
func checkJoinWoken[T any](t *testing.T, q *Queue[T], get func()) {
	t.Helper()
	j := &Joinable[T]{q}
	if n := j.unfinished(); n != 1 {
		t.Fatalf("%d tasks unfinished before the Get, want 1", n)
	}
	join := q.ctl.join.Seq
	asleep := join.Load() | 1
	join.Store(asleep) // a Join asleep on the unfinished task
	get()
	if n := j.unfinished(); n != 0 {
		t.Fatalf("%d tasks unfinished after the Get, want 0", n)
	}
	if join.Load() == asleep {
		t.Error("the Get took the last task off the count and woke no Join")
	}
}
