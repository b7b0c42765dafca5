package queue_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

type largeArgs struct {
	Q     *queue.Queue[[]byte]
	Sizes []int
}

var putSizes = process.Register("queue-put-sizes", func(ctx context.Context, a largeArgs) error {
	defer a.Q.Close()
	for i, n := range a.Sizes {
		if err := a.Q.Put(ctx, shmtest.Payload(i, n)); err != nil {
			return fmt.Errorf("message %d (%d bytes): %w", i, n, err)
		}
	}
	return nil
})

// TestLargeMessagesAcrossProcesses sends messages of every size from 0 B
// to 16 MiB from a worker through a queue made with default options, and
// checks each arrives once, whole and in order, with GetFunc (the
// zero-copy receive) for every other one.
func TestLargeMessagesAcrossProcesses(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.MaxMessage() < 64<<20 {
		t.Fatalf("default MaxMessage %d, want at least 64 MiB", q.MaxMessage())
	}
	sizes := shmtest.MessageSizes(24)
	p, err := putSizes.Start(ctx, largeArgs{Q: q, Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		want := crc32.ChecksumIEEE(shmtest.Payload(i, n))
		var got []byte
		if i%2 == 0 {
			got, err = q.Get(ctx)
		} else {
			err = q.GetFunc(ctx, func(msg []byte) error {
				got = append([]byte(nil), msg...)
				return nil
			})
		}
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, n, err)
		}
		if len(got) != n || crc32.ChecksumIEEE(got) != want {
			t.Fatalf("message %d: got %d bytes (crc %08x), want %d (crc %08x)", i, len(got), crc32.ChecksumIEEE(got), n, want)
		}
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := q.TryGet(); ok {
		t.Fatal("a message more than was sent")
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("arena holds %d bytes after every message was got", u)
	}
}

type report struct {
	Name  string
	Notes string
	N     int
}

var putReport = process.Register("queue-put-report", func(ctx context.Context, q *queue.Queue[report]) error {
	defer q.Close()
	return q.Put(ctx, report{Name: "big", Notes: strings.Repeat("0123456789", 1000), N: 7})
})

// TestGobStructWithLargeString sends a gob-encoded struct carrying a 10 KB
// string through a queue with default options.
func TestGobStructWithLargeString(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[report]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	p, err := putReport.Start(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	r, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "big" || r.N != 7 || r.Notes != strings.Repeat("0123456789", 1000) {
		t.Fatalf("got %q, %d, a %d-byte string", r.Name, r.N, len(r.Notes))
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestTooLarge: a message over MaxMessage is ErrTooLarge, the queue is
// unharmed, and the arena holds nothing.
func TestTooLarge(t *testing.T) {
	q, err := queue.New(queue.Options[[]byte]{MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.TryPut(make([]byte, 1<<20+1)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("TryPut of 1 MiB + 1: %v, want ErrTooLarge", err)
	}
	if ok, err := q.TryPut(make([]byte, 1<<20)); !ok || err != nil {
		t.Fatalf("TryPut of 1 MiB: %v %v", ok, err)
	}
	if u := queue.ArenaUsed(q); u != 1<<20 {
		t.Fatalf("arena holds %d bytes, want 1 MiB", u)
	}
	if b, ok, err := q.TryGet(); !ok || err != nil || len(b) != 1<<20 {
		t.Fatalf("TryGet: %d bytes, %v %v", len(b), ok, err)
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("arena holds %d bytes, want 0", u)
	}
}

var putPlacedThenHold = process.Register("queue-put-placed-hold", func(ctx context.Context, q *queue.Queue[[]byte]) error {
	queue.SetPlacedHook(hold)
	return q.Put(ctx, make([]byte, 4<<20))
})

// TestProducerKilledHoldingBlock kills a producer after it placed a 4 MiB
// message out of line and before it sent it: a survivor's check gives the
// block back, and the messages queued around it all arrive.
func TestProducerKilledHoldingBlock(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	trials := shmtest.Iterations(t, 20)
	for trial := range trials {
		sent := []int{10, 300, 70000}
		putPayloads(t, ctx, q, sent, 0)
		before := queue.ArenaUsed(q)
		killHeld(t, ctx, putPlacedThenHold, q)
		if u := queue.ArenaUsed(q); u < before+4<<20 {
			t.Fatalf("trial %d: arena holds %d bytes with the dead producer's block, want at least %d", trial, u, before+4<<20)
		}
		if !queue.Reclaim(q) {
			t.Fatalf("trial %d: the dead producer's block was not reclaimed", trial)
		}
		if u := queue.ArenaUsed(q); u != before {
			t.Fatalf("trial %d: arena holds %d bytes after the reclaim, want %d", trial, u, before)
		}
		getPayloads(t, ctx, q, trial, sent)
	}
}

// putPayloads puts shmtest.Payload(from+i, ns[i]) for each of ns.
func putPayloads(t *testing.T, ctx context.Context, q *queue.Queue[[]byte], ns []int, from int) {
	t.Helper()
	for i, n := range ns {
		if err := q.Put(ctx, shmtest.Payload(from+i, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// getPayloads gets the messages shmtest.Payload(i, sent[i]) in order and
// checks that no message is left, nor any block in the arena.
func getPayloads(t *testing.T, ctx context.Context, q *queue.Queue[[]byte], trial int, sent []int) {
	t.Helper()
	for i, n := range sent {
		b, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != n || crc32.ChecksumIEEE(b) != crc32.ChecksumIEEE(shmtest.Payload(i, n)) {
			t.Fatalf("trial %d: message %d is %d bytes, want %d", trial, i, len(b), n)
		}
	}
	if _, ok, err := q.TryGet(); ok || err != nil {
		t.Fatalf("trial %d: a message more: %v %v", trial, ok, err)
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("trial %d: arena holds %d bytes at the end", trial, u)
	}
}

var putPublishedThenHold = process.Register("queue-put-published-hold", func(ctx context.Context, q *queue.Queue[[]byte]) error {
	queue.SetPublishedHook(hold)
	return q.Put(ctx, make([]byte, 4<<20))
})

// TestProducerKilledAfterPublish kills a producer after it handed its 4
// MiB block to the message (the block is "queued") and before the ring
// published the slot: the slot is given up, and the consumer that skips
// it frees the block, which no message will deliver and Reclaim leaves
// alone. The messages queued around it all arrive.
func TestProducerKilledAfterPublish(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	trials := shmtest.Iterations(t, 20)
	for trial := range trials {
		sent := []int{10, 300, 70000, 20}
		putPayloads(t, ctx, q, sent[:3], 0)
		killHeld(t, ctx, putPublishedThenHold, q)
		putPayloads(t, ctx, q, sent[3:], 3)
		getPayloads(t, ctx, q, trial, sent)
	}
}

// TestProducerKilledAfterPublishAtLimit: a producer killed as in
// TestProducerKilledAfterPublish, its slot at the head of a queue then
// filled to MaxSize, and no Get running. A Put blocked on the full queue
// gives that slot up in its check (the ring's rescue of a full ring skips
// the head for the consumers) and goes on; no Get will see the slot, so
// the skip must free the block, as a consumer's skip of it does.
func TestProducerKilledAfterPublishAtLimit(t *testing.T) {
	ctx := ctxT(t)
	const maxSize = 4
	q, err := queue.New(queue.Options[[]byte]{MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	killHeld(t, ctx, putPublishedThenHold, q)
	if u := queue.ArenaUsed(q); u < 4<<20 {
		t.Fatalf("arena holds %d bytes with the dead producer's block, want at least %d", u, 4<<20)
	}
	sent := []int{10, 100, 20, 40} // inline
	putPayloads(t, ctx, q, sent[:maxSize-1], 0)
	putPayloads(t, ctx, q, sent[maxSize-1:], maxSize-1) // waits for its check to skip the head
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("arena holds %d bytes once the dead producer's slot was skipped, want 0", u)
	}
	getPayloads(t, ctx, q, 0, sent)
}

// ExampleQueue_GetFunc sends a 1 MiB message through a queue made with
// default options (it travels out of line) and reads it in place.
func ExampleQueue_GetFunc() {
	q, err := queue.New(queue.Options[[]byte]{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ctx := context.Background()
	if err := q.Put(ctx, make([]byte, 1<<20)); err != nil {
		panic(err)
	}
	err = q.GetFunc(ctx, func(msg []byte) error {
		fmt.Println(len(msg), "bytes, read in place")
		return nil
	})
	fmt.Println(err)
	// Output:
	// 1048576 bytes, read in place
	// <nil>
}

// TestLargeShutdownAndMaxBytes: GetFunc drains a shut-down queue and then
// says so; MaxBytes counts out-of-line messages (whole pages, and their
// reference slots).
func TestLargeShutdownAndMaxBytes(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{MaxBytes: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range 2 {
		if ok, err := q.TryPut(make([]byte, 1<<20)); !ok || err != nil {
			t.Fatalf("Put %d: %v %v", i, ok, err)
		}
	}
	if ok, err := q.TryPut(make([]byte, 2<<20)); ok || err != nil {
		t.Fatalf("a 2 MiB Put past MaxBytes of 3 MiB with 2 MiB queued: %v %v, want refused", ok, err)
	}
	if ok, err := q.TryPut(make([]byte, 1<<20-8<<10)); !ok || err != nil {
		t.Fatalf("a Put that fits MaxBytes: %v %v", ok, err)
	}
	if ok, err := q.TryPut(make([]byte, 16<<10)); ok || err != nil {
		t.Fatalf("a 16 KiB Put past MaxBytes: %v %v, want refused", ok, err)
	}
	q.Shutdown()
	for i := range 3 {
		if err := q.GetFunc(ctx, func(msg []byte) error {
			if len(msg) < 1<<20-8<<10 {
				return fmt.Errorf("%d bytes", len(msg))
			}
			return nil
		}); err != nil {
			t.Fatalf("GetFunc %d after Shutdown: %v", i, err)
		}
	}
	if err := q.GetFunc(ctx, func([]byte) error { return nil }); !errors.Is(err, queue.ErrShutdown) {
		t.Fatalf("GetFunc on a drained shut-down queue: %v, want ErrShutdown", err)
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("arena holds %d bytes", u)
	}
}

// holdBytes is codec.Bytes, except that a worker decoding a message whose
// first byte is 2 stops there (its kill point): it holds the message's
// slot claimed and, for a large one, the block taken.
type holdBytes struct{}

func (holdBytes) Size(v *[]byte) int                           { return len(*v) }
func (holdBytes) Append(dst []byte, v *[]byte) ([]byte, error) { return append(dst, *v...), nil }
func (holdBytes) Decode(src []byte, v *[]byte) error {
	if len(src) > 0 && src[0] == 2 && process.IsWorker() {
		hold()
	}
	*v = append((*v)[:0], src...)
	return nil
}
func (holdBytes) CodecName() string { return "queue-test-hold-bytes" }

func init() { codec.Register[[]byte](holdBytes{}) }

var getHeld = process.Register("queue-get-held", func(ctx context.Context, q *queue.Queue[[]byte]) error {
	_, err := q.Get(ctx)
	return err
})

// TestConsumerKilledReadingLarge kills a consumer while it decodes a large
// message (its slot claimed, its block taken): the next Get adopts the
// dead consumer's claim, takes the block over and delivers the message,
// once, and the arena is empty after.
func TestConsumerKilledReadingLarge(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{Codec: holdBytes{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	trials := shmtest.Iterations(t, 5)
	for trial := range trials {
		msg := shmtest.Payload(trial, 3<<20)
		msg[0] = 2
		if err := q.Put(ctx, msg); err != nil {
			t.Fatal(err)
		}
		killHeld(t, ctx, getHeld, q)
		if u := queue.ArenaUsed(q); u != 3<<20 {
			t.Fatalf("trial %d: arena holds %d bytes with the dead reader's block, want 3 MiB", trial, u)
		}
		if queue.Reclaim(q) {
			t.Fatalf("trial %d: Reclaim freed a block a dead reader held (its message is still to be delivered)", trial)
		}
		got, err := q.Get(ctx)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		if len(got) != len(msg) || crc32.ChecksumIEEE(got) != crc32.ChecksumIEEE(msg) {
			t.Fatalf("trial %d: got %d bytes, want the 3 MiB message", trial, len(got))
		}
		if _, ok, err := q.TryGet(); ok || err != nil {
			t.Fatalf("trial %d: a message more: %v %v", trial, ok, err)
		}
		if u := queue.ArenaUsed(q); u != 0 {
			t.Fatalf("trial %d: arena holds %d bytes at the end", trial, u)
		}
	}
}

// TestReclaimWakesArenaWaiters: a Put that finds the arena full reclaims
// the blocks of producers that died holding them before it waits; the
// room it frees is also room for the Puts asleep on the arena already,
// which slept on until their own poll, up to 50 ms later. The sleeper is
// the sleep bit of notFull, set by hand; the wake is that bit cleared.
func TestReclaimWakesArenaWaiters(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{MaxMessage: 4 << 20}) // a 16 MiB arena
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	killHeld(t, ctx, putPlacedThenHold, q) // 4 MiB held by a dead producer
	for i := range 3 {
		if err := q.Put(ctx, make([]byte, 4<<20)); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if ok, err := q.TryPut(make([]byte, 1<<20)); ok || err != nil {
		t.Fatalf("a large TryPut with the arena full: %v %v, want no room", ok, err)
	}
	_, putAsleep := queue.Asleep(q) // a Put asleep for arena room
	if err := q.Put(ctx, make([]byte, 1<<20)); err != nil {
		t.Fatalf("a Put that reclaims the dead producer's block: %v", err)
	}
	if putAsleep() {
		t.Error("a Put reclaimed 4 MiB of the arena and woke no other Put")
	}
	for i := range 4 {
		if _, err := q.Get(ctx); err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	if u := queue.ArenaUsed(q); u != 0 {
		t.Fatalf("arena holds %d bytes at the end", u)
	}
}
