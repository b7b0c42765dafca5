package queue_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
)

// jittery is a value whose codec panics on it: a user's codec with a bug
// (a MarshalJSON method that dereferences nil, say), whose panic the
// caller recovers, as an HTTP server recovers a handler's.
type jittery struct {
	V     int64
	Panic bool // the codec's Append (or Decode, for Get) panics on it
	Large bool // the codec's Size says it is 64 KiB: placed in the arena
}

// panicky is that codec: 9 bytes (V and the flag), or 64 KiB for Large.
type panicky struct{}

const largeJittery = 64 << 10

func (panicky) Size(v *jittery) int {
	if v.Large {
		return largeJittery
	}
	return 9
}

func (c panicky) Append(dst []byte, v *jittery) ([]byte, error) {
	if v.Panic {
		panic("codec bug")
	}
	n := c.Size(v)
	b := append(dst, make([]byte, n)...)
	rec := b[len(dst):]
	binary.LittleEndian.PutUint64(rec, uint64(v.V))
	if v.Large {
		rec[8] = 2
	}
	return b, nil
}

func (panicky) Decode(src []byte, v *jittery) error {
	if len(src) < 9 {
		return fmt.Errorf("short record of %d bytes", len(src))
	}
	*v = jittery{V: int64(binary.LittleEndian.Uint64(src)), Large: src[8] == 2}
	if v.V < 0 {
		panic("codec bug") // a value put negative stands for one Decode panics on
	}
	return nil
}

// recovered runs f and reports whether it panicked.
func recovered(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// TestCodecPanicLeavesQueueWorking: a codec's panic inside Put, PutBatch,
// Get or GetBatch goes to the caller, and the queue goes on: the slot the
// panicking Put had claimed is given up (consumers skip it; before, they
// waited on it for ever, and every message behind it with them), the slot
// a panicking Get had claimed is given back (before, producers waited on
// it for ever once the ring came round), a large message's arena block is
// freed (before, a dozen panics filled the arena), and nothing else is
// lost or got twice.
func TestCodecPanicLeavesQueueWorking(t *testing.T) {
	seg := shmtest.Segment(t, 4<<20)
	q, err := queue.Create(seg, "q", queue.Options[jittery]{MaxSize: 8, SlotSize: 64, MaxMessage: 256 << 10, Codec: panicky{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	next := int64(0)
	want := func(n int) {
		t.Helper()
		for range n {
			v, err := q.Get(ctx)
			if err != nil || v.V != next {
				t.Fatalf("Get = %+v, %v; want V %d", v, err, next)
			}
			next++
		}
	}
	put := int64(0)
	for lap := range 3 { // round the ring of 8 slots, more than once
		if !recovered(func() { q.Put(ctx, jittery{Panic: true}) }) {
			t.Fatal("Put of a value its codec panics on did not panic")
		}
		if !recovered(func() { q.PutBatch(ctx, []jittery{{V: put}, {Panic: true}}) }) {
			t.Fatal("PutBatch of a value its codec panics on did not panic")
		}
		put++
		if !recovered(func() { q.TryPut(jittery{Panic: true}) }) {
			t.Fatal("TryPut of a value its codec panics on did not panic")
		}
		for range 2 { // 6 of 8 slots taken, 3 of them given up by the panics
			if err := q.Put(ctx, jittery{V: put}); err != nil {
				t.Fatalf("lap %d: Put after the panics: %v", lap, err)
			}
			put++
		}
		want(3)
		if err := q.Put(ctx, jittery{V: -1}); err != nil {
			t.Fatal(err)
		}
		if !recovered(func() { q.Get(ctx) }) {
			t.Fatal("Get of a value its codec panics on did not panic")
		}
		if err := q.Put(ctx, jittery{V: -1}); err != nil {
			t.Fatal(err)
		}
		vs := make([]jittery, 4)
		if !recovered(func() { q.GetBatch(ctx, vs) }) {
			t.Fatal("GetBatch of a value its codec panics on did not panic")
		}
	}
	for i := range 24 { // two dozen 64 KiB blocks, in an arena of 4 × 256 KiB
		if !recovered(func() { q.Put(ctx, jittery{Panic: true, Large: true}) }) {
			t.Fatalf("large Put %d of a value its codec panics on did not panic", i)
		}
	}
	if err := q.Put(ctx, jittery{V: put, Large: true}); err != nil {
		t.Fatalf("large Put after the panics: %v", err)
	}
	if v, err := q.Get(ctx); err != nil || v != (jittery{V: put, Large: true}) {
		t.Fatalf("large Get = %+v, %v; want V %d, Large", v, err, put)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}

// TestCodecPanicInLargeGetFreesItsBlock: a Get whose codec panics on a
// message placed out of line, or a GetFunc whose use panics on one,
// consumes the message, and its arena block goes with it. The Get had
// taken the block over (arena.Take: this process its reader) and freed
// it only after Decode returned, while the ring gave the slot back on
// the way out: the block, referenced from nowhere and held by a live
// reader, was lost for good, and a dozen such panics filled the arena,
// so that every large Put after them waited for room that never came.
func TestCodecPanicInLargeGetFreesItsBlock(t *testing.T) {
	seg := shmtest.Segment(t, 4<<20)
	q, err := queue.Create(seg, "q", queue.Options[jittery]{MaxSize: 8, SlotSize: 64, MaxMessage: 256 << 10, Codec: panicky{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	gets := map[string]func(){
		"Get": func() { q.Get(ctx) },
		"GetFunc": func() {
			q.GetFunc(ctx, func(msg []byte) error { panic("use bug") })
		},
	}
	for _, name := range []string{"Get", "GetFunc"} {
		for i := range 24 { // two dozen 64 KiB blocks, in an arena of 4 × 256 KiB
			if err := q.Put(ctx, jittery{V: -1, Large: true}); err != nil {
				t.Fatalf("%s: large Put %d: %v", name, i, err)
			}
			if !recovered(gets[name]) {
				t.Fatalf("%s %d of a large message that panics did not panic", name, i)
			}
			if u := queue.ArenaUsed(q); u != 0 {
				t.Fatalf("%s %d panicked: the arena holds %d bytes, want 0 (the message's block lost)", name, i, u)
			}
		}
	}
	if err := q.Put(ctx, jittery{V: 5, Large: true}); err != nil {
		t.Fatalf("large Put after the panics: %v", err)
	}
	if v, err := q.Get(ctx); err != nil || v != (jittery{V: 5, Large: true}) {
		t.Fatalf("large Get = %+v, %v; want V 5, Large", v, err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}

// TestGetIntoNilLeavesTheQueueWorking: GetInto into a nil pointer is a
// misuse, and says so with an error; its panic, on the one-message path of
// the binary codec, came with the message claimed and the handle's lock
// held, so every later Get on the handle, and its Close, hung.
func TestGetIntoNilLeavesTheQueueWorking(t *testing.T) {
	q, err := queue.New(queue.Options[int64]{MaxSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	for i := range int64(2) {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := q.Get(ctx); err != nil || v != 0 { // the fast path, attached
		t.Fatalf("Get = %d, %v; want 0", v, err)
	}
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panicked: %v", p)
			}
		}()
		return q.GetInto(ctx, nil)
	}()
	if err == nil || strings.HasPrefix(err.Error(), "panicked") {
		t.Fatalf("GetInto(ctx, nil) = %v, want an error", err)
	}
	if v, err := q.Get(ctx); err != nil || v != 1 {
		t.Fatalf("Get after GetInto(nil) = %d, %v; want 1", v, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}
