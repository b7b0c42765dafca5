package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/queue"
)

// TestReceiveFullPulledAhead: the messages Receive has pulled ahead of a
// local queue that stays full past AckWait are not delivered again, so
// that the queue gets each message once when no bridge dies. Receive told
// JetStream that the message in its hand was in progress, not those it
// held behind it: JetStream delivered them again after AckWait (here to
// the same Receive, on a cluster of hosts to any), and the queue got both
// copies.
func TestReceiveFullPulledAhead(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	makeStream(t, ctx, js, "RF", 1)
	dst, err := queue.New(queue.Options[[]byte]{MaxSize: 2, MaxMessage: 64, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	const n = 8
	for i := range n {
		if _, err := js.Publish(ctx, "RF", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	const ackWait = 3 * time.Second // Receive's in-progress every second has two to spare
	o := bridge.Options[[]byte]{Stream: "RF", Batch: 16, AckWait: ackWait, Codec: codec.Bytes{}}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	shmtest.Go(t, func() { bridge.Receive(rctx, js, dst, o) })

	// Nobody gets from dst: it fills, and Receive holds the rest. Wait
	// until the server delivers one of them again, or for four AckWaits
	// of a full queue without that.
	full := time.NewTimer(4 * ackWait)
	defer full.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	redelivered := 0
wait:
	for {
		select {
		case <-full.C:
			break wait
		case <-poll.C:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		c, err := js.Consumer(ctx, "RF", "shmkit-bridge")
		if err != nil {
			continue // Receive has not made it yet
		}
		if info, err := c.Info(ctx); err == nil && info.NumRedelivered > 0 {
			redelivered = info.NumRedelivered
			break wait
		}
	}
	// A last message, delivered after every copy delivered so far: the
	// queue gets the n messages, then this one, and nothing twice.
	if _, err := js.Publish(ctx, "RF", []byte{n}); err != nil {
		t.Fatal(err)
	}
	seen := make(map[byte]int)
	for {
		gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, err := dst.Get(gctx)
		cancel()
		if err != nil {
			t.Fatalf("Get after %v: %v; %s", seen, err, streamState(js, "RF"))
		}
		seen[v[0]]++
		if v[0] == n {
			break
		}
	}
	for i := range byte(n + 1) {
		if seen[i] != 1 {
			t.Errorf("message %d got %d times (the server delivered %d messages again while the queue was full): %v", i, seen[i], redelivered, seen)
		}
	}
}

// TestReceiveConnClosed: a Receive whose connection closes (closed by its
// owner, or its reconnects exhausted), idle or waiting on a full queue,
// returns an error matching nats.ErrConnectionClosed, as Send, ServeTasks
// and ServeManager do. It returned jetstream's own sentinel when idle, and
// waited on a full queue until it had room, to put a message it could no
// longer acknowledge and that JetStream would deliver again.
func TestReceiveConnClosed(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			ctx := ctxT(t)
			s := startServer(t)
			js := connect(t, s.ClientURL())
			other := connect(t, s.ClientURL())
			stream := fmt.Sprintf("RX%v", full)
			makeStream(t, ctx, other, stream, 1)
			dst := newQueue(t, 1)
			if full {
				if err := dst.Put(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if _, err := other.Publish(ctx, stream, make([]byte, 8)); err != nil {
					t.Fatal(err)
				}
			}
			recvErr := make(chan error, 1)
			shmtest.Go(t, func() { recvErr <- bridge.Receive(ctx, js, dst, bridge.Options[uint64]{Stream: stream}) })
			// Receive waits: for a message (a pull request waits on the
			// consumer), or to put the one it has (delivered, unacknowledged).
			poll := time.NewTicker(10 * time.Millisecond)
			defer poll.Stop()
			for {
				c, err := other.Consumer(ctx, stream, "shmkit-bridge")
				if err == nil {
					info, err := c.Info(ctx)
					if err == nil && (!full && info.NumWaiting > 0 || full && info.NumAckPending > 0) {
						break
					}
				}
				select {
				case <-poll.C:
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
			js.Conn().Close()
			select {
			case err := <-recvErr:
				if !errors.Is(err, nats.ErrConnectionClosed) {
					t.Errorf("Receive after its connection closed = %v, want nats.ErrConnectionClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Receive still running 10 s after its connection closed")
			}
		})
	}
}
