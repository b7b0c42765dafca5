package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// stalled is a message whose codec can stop a Put inside Append, its slot
// claimed, and then fail it: the Put gives the slot up.
type stalled struct{ V int64 }

type stallCodec struct{ in, release chan struct{} }

var errStalled = errors.New("stalled: encoding refused")

func (stallCodec) Size(*stalled) int { return 8 }
func (c stallCodec) Append(dst []byte, v *stalled) ([]byte, error) {
	if v.V < 0 {
		c.in <- struct{}{}
		<-c.release
		return dst, errStalled
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V)), nil
}
func (stallCodec) Decode(src []byte, v *stalled) error {
	v.V = int64(binary.LittleEndian.Uint64(src))
	return nil
}
func (stallCodec) CodecName() string { return "queue-test-stall" }

// TestGiveUpWakesConsumersAndJoin: a Put whose encoding fails gives its
// claimed slot up. While it held the slot, a message put after it waited
// behind it, and the slot counted as a task being put: a Get found
// nothing (and would sleep), a Join found a task unfinished (and would
// sleep). The give-up changes both, and must wake both; it woke only the
// ring's own waiters, not the queue's, so the Get and the Join slept on
// until their poll, 50 ms later. The sleepers are the sleep bits of
// notEmpty and join, set by hand; the wake is the bit cleared.
func TestGiveUpWakesConsumersAndJoin(t *testing.T) {
	puts := map[string]func(ctx context.Context, q *Joinable[stalled]) error{
		"Put": func(ctx context.Context, q *Joinable[stalled]) error {
			return q.Put(ctx, stalled{V: -1})
		},
		"PutBatch": func(ctx context.Context, q *Joinable[stalled]) error {
			_, err := q.PutBatch(ctx, []stalled{{V: -1}})
			return err
		},
	}
	for name, put := range puts {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			c := stallCodec{in: make(chan struct{}), release: make(chan struct{})}
			seg := shmtest.Segment(t, 1<<20)
			stuck, err := CreateJoinable(seg, "q", Options[stalled]{MaxSize: 8, Codec: c})
			if err != nil {
				t.Fatal(err)
			}
			defer stuck.Close()
			other, err := OpenJoinable(seg, "q", Options[stalled]{Codec: c})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			failed := make(chan error, 1)
			go func() { failed <- put(ctx, stuck) }()
			<-c.in // its slot claimed, not filled
			if err := other.Put(ctx, stalled{V: 7}); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := other.TryGet(); ok || err != nil {
				t.Fatalf("a Get behind the claimed slot: %v, %v; want nothing yet", ok, err)
			}
			if n := other.unfinished(); n != 2 {
				t.Fatalf("%d tasks unfinished, want 2 (one being put)", n)
			}
			notEmpty, join := other.ctl.notEmpty.Seq, other.ctl.join.Seq
			getAsleep, joinAsleep := notEmpty.Load()|1, join.Load()|1
			notEmpty.Store(getAsleep) // a Get asleep on the empty queue
			join.Store(joinAsleep)    // a Join asleep on the unfinished task
			close(c.release)
			if err := <-failed; !errors.Is(err, errStalled) {
				t.Fatalf("%s with an encoding that fails: %v, want %v", name, err, errStalled)
			}
			if notEmpty.Load() == getAsleep {
				t.Error("the give-up let a queued message through and woke no Get")
			}
			if join.Load() == joinAsleep {
				t.Error("the give-up took a task off the count and woke no Join")
			}
			if v, err := other.Get(ctx); v.V != 7 || err != nil {
				t.Fatalf("Get after the give-up: %v, %v; want 7", v, err)
			}
		})
	}
}
