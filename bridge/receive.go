package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/internal/qhold"
	"github.com/shmkit/shmkit/queue"
)

// Receive moves the stream's messages into the local queue q: it takes
// them from the durable pull consumer o.Consumer (made or updated with
// explicit acknowledgement and o.AckWait), decodes each with o.Codec, puts
// it in q, and acknowledges it to JetStream only once the Put has
// succeeded. It runs until ctx is done or q is shut down, then returns
// nil, or until q is closed, then returns an error matching
// queue.ErrClosed; the messages it had pulled and not put go back to the
// stream (negative acknowledgement) for any receiver. Any number of hosts
// may Receive from one consumer: each message goes to one of them.
//
// A message that does not decode is terminated (JetStream drops it) and
// Receive goes on. A bridge killed between a Put and its acknowledgement
// reaching the server leaves that message to be delivered again after
// AckWait: the local queue gets it twice (at least once; see
// docs/bridge.md). While q is full Receive tells JetStream that the
// message in hand is in progress, so it is not delivered elsewhere.
func Receive[T any](ctx context.Context, js jetstream.JetStream, q *queue.Queue[T], o Options[T]) error {
	o = o.withDefaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, o.Stream, jetstream.ConsumerConfig{
		Durable:       o.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		FilterSubject: o.Subject,
		MaxAckPending: -1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("bridge: consumer %q of stream %q: %w", o.Consumer, o.Stream, err)
	}
	// Pull requests that expire every pullExpiry, with heartbeats every
	// second: a request parked on a server that died is noticed and
	// replaced within seconds (the client's defaults take 10 to 30).
	it, err := cons.Messages(jetstream.PullMaxMessages(o.Batch), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return fmt.Errorf("bridge: consumer %q of stream %q: %w", o.Consumer, o.Stream, err)
	}
	defer it.Stop()
	defer func() {
		// The acknowledgements leave the process before Receive returns,
		// when they can: a connection that is away (reconnecting) sends
		// them once it is back, if the process lives, and a flush started
		// meanwhile would only wait out its 10 s for the server's answer.
		if nc := js.Conn(); nc.IsConnected() {
			nc.Flush()
		}
	}()

	// q's shutdown ends Receive even when no message comes to fail a Put:
	// the wait for the next message ends with wctx, which the watcher
	// cancels on the shutdown. (Without it Receive waited on an idle
	// stream for ever.)
	//
	// q's Close ends it too, by the same cancel: a closed handle reports
	// no shutdown, and Receive waited for a message to fail its Put, for
	// ever on an idle stream (TestReceiveQueueClosedIdle). The hold tells
	// of the Close; it is given back at once, as Receive's own calls on q
	// look for the close themselves and need not hold the Close up.
	closing, release, ok := qhold.Hold(q)
	if !ok {
		return fmt.Errorf("bridge: %w", queue.ErrClosed)
	}
	var giveUp sync.Once
	defer giveUp.Do(release)
	var qClosed atomic.Bool
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if watchShutdown(wctx, q, closing) {
			qClosed.Store(true) // before stopWatch: the loop reads it once its wait ends
			giveUp.Do(release)
		}
		stopWatch()
	}()
	defer func() { stopWatch(); <-watched }()

	next := jetstream.NextContext(wctx) // made once: an option is an allocation
	var v, zero T                       // v escapes to the codec: one allocation for all
	for {
		m, err := it.Next(next)
		if err != nil {
			if wctx.Err() != nil { // ctx done, q shut down, or q closed
				giveBack(it)
				if qClosed.Load() && ctx.Err() == nil {
					return fmt.Errorf("bridge: %w", queue.ErrClosed)
				}
				return nil
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				continue // the iterator pulls again
			}
			return fmt.Errorf("bridge: consumer %q: %w", o.Consumer, err)
		}
		v = zero // a codec decodes into what it is given (gob merges)
		if err := o.Codec.Decode(m.Data(), &v); err != nil {
			m.Term()
			continue
		}
		if err := put(ctx, q, m, v, o.AckWait); err != nil {
			m.Nak()
			giveBack(it)
			if ctx.Err() != nil || errors.Is(err, queue.ErrShutdown) {
				return nil
			}
			return fmt.Errorf("bridge: %w", err)
		}
		at("put")
		m.Ack()
	}
}

const pullExpiry = 5 * time.Second

// shutdownPoll is how often Receive looks whether its queue was shut
// down. The queue announces a shutdown on its not-empty event, which every
// Put notifies too: a watcher asleep there would cost each of the local
// producers' Puts a wake-up. A load every shutdownPoll costs nothing.
const shutdownPoll = 50 * time.Millisecond

// watchShutdown returns once q is shut down or ctx is done, or, reporting
// true, once closing is closed (q's Close has begun).
func watchShutdown[T any](ctx context.Context, q *queue.Queue[T], closing <-chan struct{}) (closed bool) {
	tick := time.NewTicker(shutdownPoll)
	defer tick.Stop()
	for {
		if q.IsShutdown() {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-closing:
			return true
		case <-tick.C:
		}
	}
}

// put puts v in q; while q is full it tells JetStream every third of
// ackWait that m is in progress.
func put[T any](ctx context.Context, q *queue.Queue[T], m jetstream.Msg, v T, ackWait time.Duration) error {
	ok, err := q.TryPut(v)
	if ok || err != nil {
		return err
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, ackWait/3)
		err := q.Put(pctx, v)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
		m.InProgress()
	}
}

// giveBack stops it and gives the messages it had pulled back to the
// stream at once, rather than after AckWait.
func giveBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		m.Nak()
	}
}
