package bridge_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
)

// lateResetJS is a JetStream whose second publication (Map's first after
// a reconnect) is stored but its acknowledgement fails with
// nats.ErrDisconnected: what the jetstream client does when its reset of
// pending acknowledgements for a RECONNECTING event
// (resetPendingAcksOnReconnect, a goroutine of its own, fed by a status
// channel of its own) runs only after the connection is back and Map,
// woken by the CONNECTED event on its channel, has published again.
type lateResetJS struct {
	jetstream.JetStream
	calls       atomic.Int32
	once        sync.Once
	republished chan struct{}
}

type failedAck struct {
	msg *nats.Msg
	err chan error
}

func (f failedAck) Ok() <-chan *jetstream.PubAck { return nil }
func (f failedAck) Err() <-chan error            { return f.err }
func (f failedAck) Msg() *nats.Msg               { return f.msg }

func (j *lateResetJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	fut, err := j.JetStream.PublishMsgAsync(m, opts...)
	if err != nil || j.calls.Add(1) != 2 {
		return fut, err
	}
	f := failedAck{msg: m, err: make(chan error, 1)}
	f.err <- nats.ErrDisconnected // the late reset
	j.once.Do(func() { close(j.republished) })
	return f, nil
}

// TestRemotePoolAckLostAfterReconnectSeen: the jetstream client fails the
// acknowledgement of a chunk Map published after it saw CONNECTED (the
// client's own RECONNECTING handler ran late). Map waited for a CONNECTED
// that never came, until its ctx, although the connection was up and the
// chunk ran; it now publishes again at once and returns the results.
func TestRemotePoolAckLostAfterReconnectSeen(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	if _, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(poolStream)); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cjs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	w := &lateResetJS{JetStream: cjs, republished: make(chan struct{})}
	in := inputs(50) // one chunk
	type result struct {
		out []int64
		err error
	}
	done := make(chan result, 1)
	mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	go func() {
		out, _, err := remoteSquare.Map(mctx, w, in, bridge.TaskOptions{Stream: poolStream, Chunksize: 64})
		done <- result{out, err}
	}()
	for nc.Stats().InMsgs == 0 { // the acknowledgement of round 0 (no host yet: no result)
		select {
		case <-mctx.Done():
			t.Fatal("no acknowledgement")
		case <-time.After(time.Millisecond):
		}
	}
	if err := nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.republished:
	case <-mctx.Done():
		t.Fatal("Map did not publish again after the reconnect")
	}
	_, _, stop := startTaskHost(t, ctx, taskHostArgs{URL: s.ClientURL(), Host: "B"})
	defer stop()
	r := <-done
	if r.err != nil {
		t.Fatalf("Map, connection up, chunks stored and run: %v", r.err)
	}
	checkSquares(t, in, r.out)
}

// stalledJS is a JetStream whose second publication fails at once, as
// PublishMsgAsync does when too many acknowledgements are outstanding
// (jetstream.ErrTooManyStalledMsgs).
type stalledJS struct {
	jetstream.JetStream
	calls atomic.Int32
}

func (j *stalledJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if j.calls.Add(1) == 2 {
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	return j.JetStream.PublishMsgAsync(m, opts...)
}

// TestRemotePoolPublishFailsPurges: a Map whose publication of its second
// chunk fails returns the error and removes the chunk it had published
// already, as it does when an acknowledgement fails; it left it in the
// stream, where a host would run it for nobody.
func TestRemotePoolPublishFailsPurges(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	js := connect(t, s.ClientURL())
	str, err := js.CreateOrUpdateStream(ctx, bridge.TaskStreamConfig(poolStream))
	if err != nil {
		t.Fatal(err)
	}
	w := &stalledJS{JetStream: js}
	_, _, err = remoteSquare.Map(ctx, w, inputs(150), bridge.TaskOptions{Stream: poolStream, Chunksize: 64})
	if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		t.Fatalf("Map: %v, want ErrTooManyStalledMsgs", err)
	}
	var info *jetstream.StreamInfo
	for { // the first chunk stored (and removed since, or not)
		if info, err = str.Info(ctx); err != nil {
			t.Fatal(err)
		}
		if info.State.LastSeq > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the first chunk never reached the stream")
		case <-time.After(time.Millisecond):
		}
	}
	if info.State.Msgs != 0 {
		t.Fatalf("the stream holds %d chunks of a Map that failed", info.State.Msgs)
	}
}
