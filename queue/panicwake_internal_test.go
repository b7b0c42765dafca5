package queue

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// boom is a value whose codec panics on it: Append on a negative V, and
// Decode on a message that holds one (put with panicOnDecode).
type boom struct{ V int64 }

type boomCodec struct{}

func (boomCodec) Size(*boom) int { return 8 }
func (boomCodec) Append(dst []byte, v *boom) ([]byte, error) {
	if v.V < 0 {
		panic("codec bug")
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V)), nil
}
func (boomCodec) Decode(src []byte, v *boom) error {
	v.V = int64(binary.LittleEndian.Uint64(src))
	if v.V == panicOnDecode {
		panic("codec bug")
	}
	return nil
}
func (boomCodec) CodecName() string { return "queue-test-boom" }

const panicOnDecode = 1 << 40

// mustPanic runs f and fails t unless f panics.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

// TestCodecPanicWakesTheQueuesWaiters: a Put whose codec panics gives its
// slot up (the ring does, on the panic's way out), and a Get whose codec
// panics gives its slot back; like an encoding error (see
// TestGiveUpWakesConsumersAndJoin), they must wake the queue's waiters
// whose state they change: Gets and Joins for a slot given up, Puts for a
// slot given back. Skipped on the panic's way out, the waiters slept on
// until their poll, 50 ms later. The sleepers are the sleep bits, set by
// hand; the wake is the bit cleared.
func TestCodecPanicWakesTheQueuesWaiters(t *testing.T) {
	ctx := context.Background()
	puts := map[string]func(q *Joinable[boom]){
		"Put":      func(q *Joinable[boom]) { q.Put(ctx, boom{V: -1}) },
		"TryPut":   func(q *Joinable[boom]) { q.TryPut(boom{V: -1}) },
		"PutBatch": func(q *Joinable[boom]) { q.PutBatch(ctx, []boom{{V: 1}, {V: -1}}) },
	}
	gets := map[string]func(q *Joinable[boom]){
		"Get":      func(q *Joinable[boom]) { q.Get(ctx) },
		"TryGet":   func(q *Joinable[boom]) { q.TryGet() },
		"GetBatch": func(q *Joinable[boom]) { q.GetBatch(ctx, make([]boom, 4)) },
		"GetFunc": func(q *Joinable[boom]) {
			q.GetFunc(ctx, func([]byte) error { panic("callback bug") })
		},
	}
	open := func(t *testing.T) *Joinable[boom] {
		seg := shmtest.Segment(t, 1<<20)
		q, err := CreateJoinable(seg, "q", Options[boom]{MaxSize: 8, Codec: boomCodec{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	for name, put := range puts {
		t.Run(name, func(t *testing.T) {
			q := open(t)
			notEmpty, join := q.ctl.notEmpty.Seq, q.ctl.join.Seq
			getAsleep, joinAsleep := notEmpty.Load()|1, join.Load()|1
			notEmpty.Store(getAsleep) // a Get asleep on the empty queue
			join.Store(joinAsleep)    // a Join asleep on an unfinished task
			mustPanic(t, name, func() { put(q) })
			if notEmpty.Load() == getAsleep {
				t.Error("the panic's give-up woke no Get")
			}
			if join.Load() == joinAsleep {
				t.Error("the panic's give-up woke no Join")
			}
		})
	}
	for name, get := range gets {
		t.Run(name, func(t *testing.T) {
			q := open(t)
			if err := q.Put(ctx, boom{V: panicOnDecode}); err != nil {
				t.Fatal(err)
			}
			notFull := q.ctl.notFull.Seq
			putAsleep := notFull.Load() | 1
			notFull.Store(putAsleep) // a Put asleep on the full queue
			mustPanic(t, name, func() { get(q) })
			if notFull.Load() == putAsleep {
				t.Error("the panic's slot given back woke no Put")
			}
		})
	}
}
