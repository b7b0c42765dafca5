package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
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
// stream (negative acknowledgement) for any receiver. When js's connection
// is closed it returns an error matching nats.ErrConnectionClosed, and
// puts nothing more: what it had pulled is delivered again after AckWait. Any number of hosts
// may Receive from one consumer: each message goes to one of them.
//
// A message that does not decode is terminated (JetStream drops it) and
// Receive goes on. A bridge killed between a Put and its acknowledgement
// reaching the server leaves that message to be delivered again after
// AckWait: the local queue gets it twice (at least once; see
// docs/bridge.md). While q is full Receive tells JetStream that the
// message in hand and those it pulled ahead are in progress, so that none
// is delivered again, however long q stays full.
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
	p := &puller{nc: js.Conn(), cons: cons, batch: o.Batch}
	if err := p.pull(); err != nil {
		return fmt.Errorf("bridge: consumer %q of stream %q: %w", o.Consumer, o.Stream, err)
	}
	defer p.stop()
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

	// A closed connection acknowledges nothing any more: its CLOSED event
	// ends a Put waiting for room (pctx), whose message JetStream will
	// deliver again, rather than putting it for a copy.
	nc := js.Conn()
	pctx, stopPut := context.WithCancel(ctx)
	defer stopPut()
	defer cancelOnClose(pctx, nc, stopPut)()

	next := jetstream.NextContext(wctx) // made once: an option is an allocation
	var v, zero T                       // v escapes to the codec: one allocation for all
	for {
		m, err := p.next(next)
		if err != nil {
			if wctx.Err() != nil { // ctx done, q shut down, or q closed
				p.giveBack()
				if qClosed.Load() && ctx.Err() == nil {
					return fmt.Errorf("bridge: %w", queue.ErrClosed)
				}
				return nil
			}
			if nc.IsClosed() { // jetstream's own sentinel: say it as nats.go does
				return fmt.Errorf("bridge: consumer %q: %w (%w)", o.Consumer, nats.ErrConnectionClosed, err)
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
		if err := put(pctx, q, v, m, p, o.AckWait); err != nil {
			m.Nak()
			p.giveBack()
			if ctx.Err() != nil || errors.Is(err, queue.ErrShutdown) {
				return nil
			}
			if nc.IsClosed() {
				return fmt.Errorf("bridge: %w", nats.ErrConnectionClosed)
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

// put puts v in q. While q is full it tells JetStream, every third of
// ackWait, that m and the messages p holds behind it are in progress.
func put[T any](ctx context.Context, q *queue.Queue[T], v T, m jetstream.Msg, p *puller, ackWait time.Duration) error {
	ok, err := q.TryPut(v)
	if ok || err != nil {
		return err
	}
	for {
		// Until the messages held are a third of ackWait old: a Put whose
		// deadline has passed still takes room that is there.
		pctx, cancel := context.WithTimeout(ctx, max(ackWait/3-time.Since(p.since), 0))
		err := q.Put(pctx, v)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
		p.hold(m)
	}
}

// puller is where Receive takes its messages from: the consumer's
// iterator, which pulls up to batch messages ahead of the local queue,
// and before it the messages taken out of an iterator while the queue
// was full (ahead). Owned by Receive's loop.
//
// A message pulled ahead is unacknowledged from its delivery: left in the
// iterator's buffer behind a queue full for longer than AckWait, it was
// delivered again (to this host or another) and the queue got it twice.
// Taken out into ahead, it is told in progress with the message in hand.
type puller struct {
	nc    *nats.Conn
	cons  jetstream.Consumer
	batch int
	it    jetstream.MessagesContext // nil from its drain into ahead until ahead is done
	ahead []jetstream.Msg           // in delivery order; those before i are done
	i     int
	// since is when it was made or the messages held were last told in
	// progress: every message Receive holds unacknowledged was delivered
	// or told at or after it.
	since time.Time
}

// pull makes the iterator.
func (p *puller) pull() error {
	// Pull requests that expire every pullExpiry, with heartbeats every
	// second: a request parked on a server that died is noticed and
	// replaced within seconds (the client's defaults take 10 to 30).
	it, err := p.cons.Messages(jetstream.PullMaxMessages(p.batch), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return err
	}
	p.it, p.ahead, p.i, p.since = it, p.ahead[:0], 0, time.Now()
	return nil
}

// next returns the next message: ahead's, then the iterator's (made again
// once ahead is done). A message ahead can no longer be acknowledged once
// the connection is closed: it is not returned then.
func (p *puller) next(opt jetstream.NextOpt) (jetstream.Msg, error) {
	if p.i < len(p.ahead) {
		if p.nc.IsClosed() {
			return nil, nats.ErrConnectionClosed
		}
		m := p.ahead[p.i]
		p.ahead[p.i] = nil
		p.i++
		return m, nil
	}
	if p.it == nil {
		if err := p.pull(); err != nil {
			return nil, err
		}
	}
	return p.it.Next(opt)
}

// hold tells JetStream that m and the messages pulled ahead are in
// progress, after taking those out of the iterator, which pulls no more
// until they are put.
func (p *puller) hold(m jetstream.Msg) {
	if p.it != nil {
		p.it.Drain()
		for {
			a, err := p.it.Next(jetstream.NextMaxWait(time.Second))
			if err != nil {
				break // drained; or one still on its way, delivered again after AckWait
			}
			p.ahead = append(p.ahead, a)
		}
		p.it.Stop()
		p.it = nil
	}
	m.InProgress()
	for _, a := range p.ahead[p.i:] {
		a.InProgress()
	}
	p.since = time.Now()
}

// stop stops the iterator.
func (p *puller) stop() {
	if p.it != nil {
		p.it.Stop()
	}
}

// giveBack gives the messages p holds back to the stream at once, rather
// than after AckWait.
func (p *puller) giveBack() {
	for _, m := range p.ahead[p.i:] {
		m.Nak()
	}
	p.ahead, p.i = p.ahead[:0], 0
	if p.it != nil {
		giveBack(p.it)
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
