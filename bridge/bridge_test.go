package bridge_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

// TestSendReceive bridges two queues of this process through one server:
// every message put on one side is got on the other exactly once, in
// order (one sender, one receiver), and both bridges stop with their
// context.
func TestSendReceive(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "T", 1)
	src, dst := newQueue(t, 256), newQueue(t, 256)
	o := bridge.Options[uint64]{Stream: "T", Window: 64, Batch: 64}
	bctx, stop := context.WithCancel(ctx)
	sendErr, recvErr := make(chan error, 1), make(chan error, 1)
	sent := shmtest.Go(t, func() { sendErr <- bridge.Send(bctx, js, src, o) })
	recvd := shmtest.Go(t, func() { recvErr <- bridge.Receive(bctx, js, dst, o) })
	n := uint64(shmtest.Iterations(t, 20000))
	shmtest.Go(t, func() {
		for i := range n {
			if err := src.Put(ctx, i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range n {
		v, err := dst.Get(ctx)
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		if v != i {
			t.Fatalf("got %d, want %d", v, i)
		}
	}
	stop()
	<-sent
	<-recvd
	if err := <-sendErr; err != nil {
		t.Errorf("Send: %v", err)
	}
	if err := <-recvErr; err != nil {
		t.Errorf("Receive: %v", err)
	}
	if v, ok, _ := dst.TryGet(); ok {
		t.Errorf("an extra message %d", v)
	}
	c, err := js.Consumer(ctx, "T", "shmkit-bridge")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx); err != nil || info.NumPending != 0 {
		t.Errorf("consumer %+v, %v: messages never delivered", info, err)
	}
}

// newQueue makes an anonymous queue that cleanup closes after the
// bridges started later (shmtest.Go) have returned: cleanups run last in,
// first out, and a closed queue made by New is unmapped.
func newQueue(t *testing.T, size int) *queue.Queue[uint64] {
	q, err := queue.New(queue.Options[uint64]{MaxSize: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// streamState describes a stream and its bridge consumer, for a failure
// message.
func streamState(js jetstream.JetStream, stream string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return err.Error()
	}
	si, err := str.Info(ctx)
	if err != nil {
		return err.Error()
	}
	s := fmt.Sprintf("stream %+v", si.State)
	if c, err := str.Consumer(ctx, "shmkit-bridge"); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			s += fmt.Sprintf("; consumer pending %d, ack pending %d, redelivered %d, waiting %d", ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
		}
	}
	return s
}

// TestSendBusy: a second Send on the same queue while the first runs is
// refused.
func TestSendBusy(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "B", 1)
	q := newQueue(t, 16)
	o := bridge.Options[uint64]{Stream: "B", Window: 8}
	bctx, stop := context.WithCancel(ctx)
	first := make(chan error, 1)
	done := shmtest.Go(t, func() { first <- bridge.Send(bctx, js, q, o) })
	// The first Send owns the journal once it has moved a message.
	if err := q.Put(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for !q.Empty() {
		select {
		case err := <-first:
			t.Fatalf("first Send: %v", err)
		default:
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	if err := bridge.Send(ctx, js, q, o); !errors.Is(err, bridge.ErrBusy) {
		t.Errorf("second Send = %v, want ErrBusy", err)
	}
	stop()
	<-done
	if err := <-first; err != nil {
		t.Error(err)
	}
}

// TestStopNoLeak: Send and Receive started and stopped with their context
// again and again on one connection leave no goroutine behind (the
// connection's own are counted before the first start).
func TestStopNoLeak(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "L", 1)
	src, dst := newQueue(t, 64), newQueue(t, 64)
	o := bridge.Options[uint64]{Stream: "L", Window: 8, Batch: 8}
	base, _ := clientGoroutines()
	for round := range uint64(3) {
		bctx, stop := context.WithCancel(ctx)
		errs := make(chan error, 2)
		go func() { errs <- bridge.Send(bctx, js, src, o) }()
		go func() { errs <- bridge.Receive(bctx, js, dst, o) }()
		if err := src.Put(ctx, round); err != nil {
			t.Fatal(err)
		}
		if v, err := dst.Get(ctx); err != nil || v != round {
			t.Fatalf("round %d: got %d, %v", round, v, err)
		}
		stop()
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
	poll := time.NewTicker(10 * time.Millisecond) // goroutines on their way out
	defer poll.Stop()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, stacks := clientGoroutines()
	for n > base && pctx.Err() == nil {
		<-poll.C
		n, stacks = clientGoroutines()
	}
	if n > base {
		t.Errorf("%d client goroutines after three starts and stops, %d before:\n%s", n, base, stacks)
	}
}

// clientGoroutines counts the goroutines of the NATS client and of the
// bridge (not the in-process server's, which keeps the consumer), and
// returns their stacks.
func clientGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n, out := 0, ""
	for _, g := range strings.Split(string(buf), "\n\n") {
		if (strings.Contains(g, "nats-io/nats.go") || strings.Contains(g, "shmkit/bridge.")) && !strings.Contains(g, "TestStopNoLeak") {
			n++
			out += g + "\n\n"
		}
	}
	return n, out
}

// TestSendTooLarge: a message over the server's max_payload can never be
// published. Send returns an error that names it (and matches
// nats.ErrMaxPayload) after publishing the messages before it, without
// journalling it; a Send started again goes on with the next message
// instead of stopping on the same one for ever.
func TestSendTooLarge(t *testing.T) {
	ctx := ctxT(t)
	so := nodeOptions("n", t.TempDir(), 0)
	so.MaxPayload = 4096
	s := runServer(t, so)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "P", 1)
	q, err := queue.New(queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1 << 16, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	for _, n := range []int{100, 5000, 200} {
		if err := q.Put(ctx, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	jseg, err := shm.CreateAnon(bridge.JournalSize(4, q.MaxMessage()) + 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jseg.Close() })
	o := bridge.Options[[]byte]{Stream: "P", Window: 4, Codec: codec.Bytes{}, Journal: jseg}
	err = bridge.Send(ctx, js, q, o)
	if !errors.Is(err, nats.ErrMaxPayload) || !strings.Contains(err.Error(), "5000 bytes") {
		t.Fatalf("Send = %v, want an error naming the 5000-byte message, matching nats.ErrMaxPayload", err)
	}
	stored := func() uint64 {
		str, err := js.Stream(ctx, "P")
		if err != nil {
			t.Fatal(err)
		}
		si, err := str.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return si.State.Msgs
	}
	if n := stored(); n != 1 {
		t.Fatalf("%d messages stored after the first Send, want 1", n)
	}
	q.Shutdown() // the second Send drains the queue and returns
	if err := bridge.Send(ctx, js, q, o); err != nil {
		t.Fatalf("second Send = %v, want nil", err)
	}
	if n := stored(); n != 2 {
		t.Errorf("%d messages stored after the second Send, want 2", n)
	}
}

// TestSendJournalTooLarge: a message journalled under a server with a
// larger max_payload (a Send killed before its acknowledgement) and then
// published to one with a smaller limit can never be published. Send
// drops it from the journal and returns at once an error naming it,
// without waiting in Get for a message or for its context; a Send started
// again goes on.
func TestSendJournalTooLarge(t *testing.T) {
	ctx := ctxT(t)
	so := nodeOptions("n", t.TempDir(), 0)
	so.MaxPayload = 4096
	s := runServer(t, so)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "PJ", 1)
	q, err := queue.New(queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1 << 16, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	jseg, err := shm.CreateAnon(bridge.JournalSize(4, 8192) + 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jseg.Close() })
	if _, err := bridge.Journalled(jseg, q.Name(), 4, 8192, make([]byte, 6000)); err != nil {
		t.Fatal(err)
	}
	o := bridge.Options[[]byte]{Stream: "PJ", Window: 4, Codec: codec.Bytes{}, Journal: jseg}
	err = bridge.Send(ctx, js, q, o) // the queue is empty and stays open
	if !errors.Is(err, nats.ErrMaxPayload) || !strings.Contains(err.Error(), "6000 bytes") {
		t.Fatalf("Send = %v, want an error naming the 6000-byte message, matching nats.ErrMaxPayload", err)
	}
	if n, err := bridge.Journalled(jseg, q.Name(), 4, 8192, nil); err != nil || n != 0 {
		t.Errorf("journal holds %d messages (%v) after Send, want 0", n, err)
	}
}

// bridgedOne makes the stream name, runs Send (until sctx ends) from a
// new queue to it and Receive (until rctx ends) from it to another, and
// moves one value across. It returns the receiving queue and where
// Receive's error goes.
func bridgedOne(t *testing.T, ctx context.Context, js jetstream.JetStream, name string, sctx, rctx context.Context) (*queue.Queue[uint64], <-chan error) {
	t.Helper()
	makeStream(t, ctx, js, name, 1)
	src, dst := newQueue(t, 16), newQueue(t, 16)
	o := bridge.Options[uint64]{Stream: name, Window: 8, Batch: 8}
	recvErr := make(chan error, 1)
	shmtest.Go(t, func() { bridge.Send(sctx, js, src, o) })
	shmtest.Go(t, func() { recvErr <- bridge.Receive(rctx, js, dst, o) })
	if err := src.Put(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if v, err := dst.Get(ctx); err != nil || v != 7 {
		t.Fatalf("got %d, %v", v, err)
	}
	return dst, recvErr
}

// TestReceiveShutdownIdle: Receive runs until its queue is shut down, even
// when no message comes from the stream any more: the shutdown alone must
// end it. It waited in the consumer's iterator for a message to fail to
// put, for ever on an idle stream.
func TestReceiveShutdownIdle(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	sctx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	dst, recvErr := bridgedOne(t, ctx, js, "RS", sctx, ctx)
	// Receive is running and the stream is idle: shut its queue down.
	if err := dst.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recvErr:
		if err != nil {
			t.Errorf("Receive = %v, want nil after its queue's shutdown", err)
		}
	case <-time.After(15 * time.Second): // the fix returns in well under a second; pulls expire every 5 s
		t.Fatalf("Receive still running 15 s after its queue was shut down: %s", streamState(js, "RS"))
	}
}

// TestReceiveQueueClosedIdle: Receive returns an error matching
// queue.ErrClosed once its queue handle is closed, even when no message
// comes from the stream any more. It waited in the consumer's iterator for
// a message to fail to put, until its context ended: its watcher looks
// for a shutdown only, which a closed handle does not report.
func TestReceiveQueueClosedIdle(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	sctx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	rctx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	dst, recvErr := bridgedOne(t, ctx, js, "RC", sctx, rctx)
	// Receive is running and the stream is idle: close its queue handle.
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recvErr:
		if !errors.Is(err, queue.ErrClosed) {
			t.Errorf("Receive = %v, want queue.ErrClosed after its queue's Close", err)
		}
	case <-time.After(15 * time.Second): // pulls expire every 5 s
		t.Fatalf("Receive still running 15 s after its queue was closed: %s", streamState(js, "RC"))
	}
}

// TestReceiveStopDisconnected: Receive stopped by its context while its
// connection is away (the server gone, the client reconnecting) returns
// promptly. Its last flush of acknowledgements waited out nats.go's 10 s
// for a server that was not there.
func TestReceiveStopDisconnected(t *testing.T) {
	ctx := ctxT(t)
	s := runServer(t, nodeOptions("n", t.TempDir(), 0))
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	_, recvErr := bridgedOne(t, ctx, js, "RD", bctx, bctx)
	away := nc.StatusChanged(nats.RECONNECTING)
	defer nc.RemoveStatusListener(away)
	s.Shutdown()
	s.WaitForShutdown()
	<-away
	start := time.Now()
	stop()
	select {
	case err := <-recvErr:
		if err != nil {
			t.Errorf("Receive = %v", err)
		}
		t.Logf("Receive returned %v after its context", time.Since(start))
	case <-time.After(8 * time.Second): // the fix returns within its give-back's second; the flush took 10 s
		t.Fatal("Receive still running 8 s after its context ended, its connection away")
	}
}

// TestSendJournalCorruptedLater: a journal entry whose length a peer
// overwrites while Send runs (the journal lives in memory that every
// holder of the queue's segment may write) makes Send return ErrCorrupt,
// never panic. Here the entry is a crashed Send's, its first publish fails
// (no stream takes the subject), and the length is overwritten before
// Send publishes it again: the retry sliced the payload with it.
func TestSendJournalCorruptedLater(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	q, err := queue.New(queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1 << 12, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	jseg, err := shm.CreateAnon(bridge.JournalSize(4, 1<<12) + 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jseg.Close() })
	if _, err := bridge.Journalled(jseg, q.Name(), 4, 1<<12, []byte("held")); err != nil {
		t.Fatal(err)
	}
	obj, err := jseg.Lookup("bridge."+q.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	length := obj.Body[shm.CacheLine+4 : shm.CacheLine+8] // entry 0's length (layout.go)
	bridge.SetHook(func(point string) {
		if point == "published" {
			binary.LittleEndian.PutUint32(length, 1<<30)
		}
	})
	defer bridge.SetHook(nil)
	o := bridge.Options[[]byte]{Stream: "NONE", Window: 4, Codec: codec.Bytes{}, Journal: jseg}
	if err := bridge.Send(ctx, js, q, o); !errors.Is(err, bridge.ErrCorrupt) {
		t.Fatalf("Send = %v, want ErrCorrupt", err)
	}
}

// TestSendJournalSmallerEntries: a journal whose entries are smaller than
// a message the server would take (made by a Send under a server with a
// smaller max_payload: an existing journal keeps its geometry) must not
// cost that message: it is in the stream, or still in the queue with
// Send's error saying why. The journal's copy failed inside the queue's
// Get, which drops a message its codec refuses.
func TestSendJournalSmallerEntries(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t) // max_payload 1 MiB
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "SJ", 1)
	q, err := queue.New(queue.Options[[]byte]{MaxSize: 16, MaxMessage: 1 << 16, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	jseg, err := shm.CreateAnon(bridge.JournalSize(4, 1024) + 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jseg.Close() })
	if _, err := bridge.Journalled(jseg, q.Name(), 4, 1024, nil); err != nil { // entries of 1 KiB
		t.Fatal(err)
	}
	if err := q.Put(ctx, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	q.Shutdown() // Send drains the queue and returns
	o := bridge.Options[[]byte]{Stream: "SJ", Window: 4, Codec: codec.Bytes{}, Journal: jseg}
	sendErr := bridge.Send(ctx, js, q, o)
	str, err := js.Stream(ctx, "SJ")
	if err != nil {
		t.Fatal(err)
	}
	si, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs+uint64(q.Len()) != 1 {
		t.Fatalf("the 5000-byte message is lost: %d in the stream, %d in the queue; Send = %v", si.State.Msgs, q.Len(), sendErr)
	}
	if si.State.Msgs == 0 && sendErr == nil {
		t.Fatalf("Send = nil, the message left in the queue")
	}
}

// sendingOne starts a Send of q to stream (a window of 4) on js, puts one
// message to q and returns once it is in the stream (asked through info),
// with the channel that gets Send's result. The test's end stops the Send
// and waits for it.
func sendingOne(t *testing.T, ctx context.Context, js, info jetstream.JetStream, q *queue.Queue[uint64], stream string) <-chan error {
	t.Helper()
	sctx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	done := shmtest.Go(t, func() { sent <- bridge.Send(sctx, js, q, bridge.Options[uint64]{Stream: stream, Window: 4}) })
	t.Cleanup(func() { stop(); <-done })
	if err := q.Put(ctx, 1); err != nil {
		t.Fatal(err)
	}
	str, err := info.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for { // Send runs: its first message is in the stream
		si, err := str.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs == 1 {
			return sent
		}
	}
}

// TestSendConnClosed: a Send whose connection closes (its reconnects
// exhausted, or closed by its owner) can publish nothing any more: it
// returns an error saying so, the messages it took staying journalled,
// rather than waiting in the queue's Get, or retrying its publishes, for
// ever.
func TestSendConnClosed(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL()) // (its cleanup's Close after the test's own is harmless)
	nc := js.Conn()
	other := connect(t, s.ClientURL())
	makeStream(t, ctx, other, "SC", 1)
	q := newQueue(t, 16)
	sent := sendingOne(t, ctx, js, other, q, "SC")
	nc.Close()
	select {
	case err := <-sent:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("Send after its connection closed = %v, want nats.ErrConnectionClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still running 10 s after its connection closed")
	}
}

// TestSendQueueClosed: a Send whose queue handle is closed while it runs
// (the caller's Close, say in a defer that runs before Send's context
// ends) returns ErrClosed, as a call on the queue does, and touches no
// memory the Close unmapped. Send worked on a handle of its own over q's
// segment, which the Close of a queue made by New unmaps under it: the
// next look of its Get faulted.
func TestSendQueueClosed(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "SQ", 1)
	q := newQueue(t, 16)
	sent := sendingOne(t, ctx, js, js, q, "SQ")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sent:
		if !errors.Is(err, queue.ErrClosed) {
			t.Errorf("Send after its queue closed = %v, want queue.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still running 10 s after its queue was closed")
	}
}
