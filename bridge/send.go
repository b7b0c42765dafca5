package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/qhold"
	"github.com/shmkit/shmkit/queue"
)

// Send moves the messages of the local queue q to the stream: it gets
// them from q, publishes them to o.Subject with a message id each
// (Nats-Msg-Id), at most o.Window unacknowledged at a time, and runs until
// ctx is done or q is shut down and drained; then it waits a few seconds
// for the acknowledgements in flight and returns nil. It returns an error
// when q or the journal fails, and one matching nats.ErrConnectionClosed
// when js's connection is closed (the messages in flight stay journalled).
//
// A message leaves q only into Send's journal (an object in o.Journal,
// by default q's own segment, shared memory that outlives this process):
// the queue hands the message over to a codec that copies it into the
// journal before the queue's slot is freed, and the journal entry is
// freed only once JetStream has acknowledged the message. A Send started
// after a crash publishes what the journal holds again, under the same
// ids. So a message put in q is in the stream at least once, whatever
// point Send is killed at; a message published again within the stream's
// duplicate window is stored once. One window remains where a kill makes a
// duplicate the ids do not catch: between the journal's copy and the
// queue freeing the slot (a few instructions), the queue hands the message
// to the next Get again and it gets a new id. See docs/bridge.md.
//
// A message over the server's max_payload (with its id header) can never
// be published: Send refuses it before it is journalled, so the queue
// drops it, and returns an error that gives its size and matches
// nats.ErrMaxPayload; a Send started again goes on with the next message.
// Send does not call a queue.Joinable's TaskDone (see docs/bridge.md).
//
// Closing q ends Send: it returns an error matching queue.ErrClosed, the
// messages in flight staying journalled as at ctx's end, and q's Close
// waits for it to return (at most the acknowledgements' grace).
//
// One Send per queue and journal at a time: a second one, while the first
// process lives, returns ErrBusy. Many processes may put to q meanwhile.
// Messages reach the stream in q's order, except those published again
// after a failure or a crash.
func Send[T any](ctx context.Context, js jetstream.JetStream, q *queue.Queue[T], o Options[T]) error {
	o = o.withDefaults()
	// Send works in q's segment (its own handle lq, the journal by
	// default), which q's Close unmaps when q owns it (a queue made by
	// New, or decoded in a worker): held, q's Close ends Send (closing)
	// and waits for it to return, so nothing here runs on unmapped
	// memory. Released last, after every deferred use of the segment.
	closing, release, ok := qhold.Hold(q)
	if !ok {
		return fmt.Errorf("bridge: %w", queue.ErrClosed)
	}
	defer release()
	seg := o.Journal
	if seg == nil {
		seg = q.Segment()
	}
	j, err := openJournal(seg, journalName(q.Name()), o.Window, journalPayload(q.MaxMessage(), js.Conn().MaxPayload()))
	if err != nil {
		return err
	}
	defer j.release()
	// An existing journal keeps its geometry: one made under a server with
	// a smaller max_payload has entries smaller than a message this server
	// takes. Its copy would fail inside the queue's Get, which drops a
	// message its codec refuses: refused here, before any Get, the
	// messages stay in the queue (and the journal's for the next Send).
	if need := journalPayload(q.MaxMessage(), js.Conn().MaxPayload()); len(j.payloads[0]) < need {
		return fmt.Errorf("bridge: journal %q holds messages of up to %d bytes, the queue's may be %d and the server takes them: pass an Options.Journal sized by JournalSize", journalName(q.Name()), len(j.payloads[0]), need)
	}
	pub, err := publisher(js, len(j.heads))
	if err != nil {
		return err
	}
	// Its reply subscription and reconnect watcher are Send's own: they
	// go with it (after collect has stopped waiting on its futures).
	defer pub.CleanupPublisher()
	// Send's Gets end with its context, or as soon as collect stops on a
	// message it can never publish.
	getCtx, stopGet := context.WithCancel(ctx)
	defer stopGet()
	// A closed connection (closed by its owner, or its reconnects
	// exhausted) publishes nothing any more, and nothing else would end
	// the Get of an idle queue or collect's retries: its CLOSED event ends
	// them, the messages taken staying journalled.
	nc := js.Conn()
	closedEv := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closedEv)
	var connClosed, qClosed atomic.Bool
	watched := make(chan struct{})
	defer close(watched)
	go func() {
		select {
		case <-closedEv:
			connClosed.Store(true) // before stopGet: the loop reads it once its Get ends
			stopGet()
		case <-closing:
			qClosed.Store(true) // before stopGet: as connClosed
			stopGet()
		case <-watched:
		}
	}()
	if nc.IsClosed() { // closed before the listener was there: no event comes
		connClosed.Store(true)
		stopGet()
	}
	s := &sender[T]{js: pub, j: j, subject: o.Subject, cur: -1, acks: make(chan int, len(j.heads)), done: make(chan error, 1), stopGet: stopGet}
	s.maxPayload = js.Conn().MaxPayload()
	// Send's own handle on q, whose codec journals each message as the
	// queue hands it over, inside the queue's claim on the slot.
	lq, err := queue.Open(q.Segment(), q.Name(), queue.Options[T]{Codec: journalCodec[T]{name: codec.Name(o.Codec), s: s}})
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	defer lq.Close()

	free := make(chan int, len(j.heads))
	s.free = free
	ackCtx, stopAcks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAcks()
	go s.collect(ackCtx)
	held := j.held()
	isHeld := make(map[int]bool, len(held))
	for _, i := range held { // a crashed Send's messages first, under their ids
		isHeld[i] = true
		s.publish(i)
	}
	for i := range j.heads {
		if !isHeld[i] {
			free <- i
		}
	}

	var runErr error
	collected := false // collect has returned (only on a message that can never be published)
	var v T
loop:
	for {
		select {
		case s.cur = <-free:
		case err := <-s.done:
			runErr, collected = err, true
			break loop
		case <-getCtx.Done(): // ctx's end, or the connection's close with a full window
			break loop
		}
		err := lq.GetInto(getCtx, &v)
		if s.filled { // journalled: it goes out even if Get then failed
			s.filled = false
			s.publish(s.cur)
			s.cur = -1
			if err == nil {
				continue
			}
		} else {
			free <- s.cur
		}
		if err != nil {
			if !errors.Is(err, queue.ErrShutdown) && getCtx.Err() == nil {
				runErr = fmt.Errorf("bridge: %w", err)
			}
			break
		}
	}
	if qClosed.Load() && runErr == nil {
		runErr = fmt.Errorf("bridge: %w", queue.ErrClosed)
	}
	// Stop: wait for the acknowledgements in flight (those that do not
	// come stay in the journal for the next Send).
	close(s.acks)
	if collected {
		return runErr
	}
	if connClosed.Load() {
		// None can come: the messages in flight stay journalled.
		stopAcks()
		<-s.done
		return fmt.Errorf("bridge: %w", nats.ErrConnectionClosed)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case err := <-s.done:
		if runErr == nil {
			runErr = err
		}
	case <-grace.C:
		stopAcks()
		<-s.done
	}
	return runErr
}

// publisher returns a JetStream context on js's connection and domain
// whose asynchronous publishes time out (so that a publish a dead server
// never answers is not pending for ever, which would end by stalling
// publishes) and may have window of them pending, retries included.
func publisher(js jetstream.JetStream, window int) (jetstream.JetStream, error) {
	jo := js.Options()
	opts := []jetstream.JetStreamOpt{jetstream.WithPublishAsyncTimeout(ackTimeout), jetstream.WithPublishAsyncMaxPending(2 * window)}
	var pub jetstream.JetStream
	var err error
	switch {
	case jo.Domain != "":
		pub, err = jetstream.NewWithDomain(js.Conn(), jo.Domain, opts...)
	case jo.APIPrefix != "":
		pub, err = jetstream.NewWithAPIPrefix(js.Conn(), jo.APIPrefix, opts...)
	default:
		pub, err = jetstream.New(js.Conn(), opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return pub, nil
}

// sender is one Send's state.
type sender[T any] struct {
	js      jetstream.JetStream
	j       *journal
	subject string
	// cur is the journal entry the next Get's message goes to, and filled
	// says that it went there: both written by Send's loop and by the
	// codec, which runs inside that loop's Get.
	cur    int
	filled bool
	// acks carries the entries published, in order, to collect; free
	// takes them back once acknowledged. done has collect's result.
	acks chan int
	free chan int
	futs []jetstream.PubAckFuture // by entry: written by publish before the entry goes on acks
	done chan error
	// stopGet ends the loop's Get: collect calls it when it stops on an
	// error.
	stopGet context.CancelFunc
	// maxPayload is the server's max_payload last seen: the codec (in
	// the loop's Get) reads it again when a message looks over it.
	maxPayload int64
}

// msgIDHeader bounds the bytes the Nats-Msg-Id header adds to a message
// of a journal whose id prefix has prefix bytes: "NATS/1.0\r\n",
// "Nats-Msg-Id: ", the id (prefix and up to 20 digits), "\r\n\r\n". The
// server's max_payload counts them.
func msgIDHeader(prefix int) int { return 10 + 13 + prefix + 20 + 4 }

// maxIDPrefix is the longest id prefix of a journal: a uint64 in base 36
// (13 digits) and "-".
const maxIDPrefix = 14

// defaultMaxPayload is a server's max_payload unless configured: what a
// new journal assumes while its connection has not seen a server yet.
const defaultMaxPayload = 1 << 20

// journalPayload is the payload of a new journal's entries: the largest
// message Send can publish, the smaller of the queue's MaxMessage and the
// server's max_payload less the id header (a queue's MaxMessage is 64 MiB
// by default: entries of that size would make a 256-message journal 16
// GiB).
func journalPayload(maxMessage int, maxPayload int64) int {
	if maxPayload <= 0 {
		maxPayload = defaultMaxPayload
	}
	return int(max(min(int64(maxMessage), maxPayload-int64(msgIDHeader(maxIDPrefix))), 1))
}

// tooLarge returns an error when a message of n bytes and its id header
// exceed the server's max_payload: it can never be published.
func (s *sender[T]) tooLarge(n int) error {
	size := int64(n + msgIDHeader(len(s.j.prefix)))
	limit := s.maxPayload
	if size <= limit || limit <= 0 {
		return nil
	}
	limit = s.js.Conn().MaxPayload() // perhaps another server's since
	s.maxPayload = limit
	if size <= limit || limit <= 0 {
		return nil
	}
	return fmt.Errorf("message of %d bytes, over the server's max_payload of %d with its id header: dropped: %w", n, limit, nats.ErrMaxPayload)
}

// publish publishes entry i and queues it for collect. A publish the
// client refuses at once (a reconnecting connection with a full buffer)
// is left for collect to retry.
func (s *sender[T]) publish(i int) {
	if s.futs == nil {
		s.futs = make([]jetstream.PubAckFuture, len(s.j.heads))
	}
	s.futs[i], _ = s.publishAsync(i) // a refusal is retried (or reported) by collect
	at("published")
	s.acks <- i // never blocks: at most one send per entry is in the channel
}

func (s *sender[T]) publishAsync(i int) (jetstream.PubAckFuture, error) {
	data, id, err := s.j.msg(i)
	if err != nil {
		return nil, err
	}
	return s.js.PublishMsgAsync(&nats.Msg{Subject: s.subject, Data: data}, jetstream.WithMsgID(id))
}

// collect waits for the acknowledgements in publishing order, frees the
// entries acknowledged, and publishes again, under the same id, what
// failed. It ends when acks is closed and drained, or when ctx is done
// (the rest stays journalled).
func (s *sender[T]) collect(ctx context.Context) {
	var err error
	defer func() {
		s.done <- err
		if err != nil {
			s.stopGet()
		}
	}()
	backoff := time.NewTimer(0)
	<-backoff.C
	wait := time.NewTimer(0)
	<-wait.C
	for i := range s.acks {
		for tries := 0; ; tries++ {
			f := s.futs[i]
			if f != nil {
				wait.Reset(2 * ackTimeout)
				select {
				case <-f.Ok():
					at("acked")
					s.j.free(i)
					s.free <- i
				case <-f.Err():
					f = nil
				case <-wait.C:
					f = nil // no answer even past the publish timeout: ask again
				case <-ctx.Done():
					return
				}
				if !wait.Stop() && f != nil {
					select {
					case <-wait.C:
					default:
					}
				}
			}
			if f != nil {
				break
			}
			// Failed (a timeout, a stream without a leader, a connection
			// being re-established): again, under the same id, after a
			// pause that grows to a second.
			backoff.Reset(min(time.Duration(tries+1)*20*time.Millisecond, time.Second))
			select {
			case <-backoff.C:
			case <-ctx.Done():
				return
			}
			var perr error
			s.futs[i], perr = s.publishAsync(i)
			if errors.Is(perr, ErrCorrupt) {
				// A peer wrote over the entry: Send stops, and the entry
				// stays, for the next Send to refuse the journal too.
				err = fmt.Errorf("bridge: %w", perr)
				return
			}
			if errors.Is(perr, nats.ErrMaxPayload) {
				// It can never be published (journalled under a server
				// with a larger max_payload): it leaves the journal, so
				// that the next Send goes on, and Send stops naming it.
				data, id, _ := s.j.msg(i) // read just now by publishAsync
				err = fmt.Errorf("bridge: message %s of %d bytes, over the server's max_payload of %d: dropped: %w", id, len(data), s.js.Conn().MaxPayload(), perr)
				s.j.free(i)
				return
			}
		}
	}
}

// journalCodec is the codec of Send's handle on the local queue: it
// carries the queue's codec name (so the handle opens the queue) and, in
// place of decoding, copies the encoded message into the journal entry
// Send chose. The queue calls Decode while it still holds the message's
// slot: a bridge killed before the copy is complete leaves the message in
// the queue for the next Get.
type journalCodec[T any] struct {
	name string
	s    *sender[T]
}

func (c journalCodec[T]) CodecName() string { return c.name }

// Size, Append: Send's handle never puts.
func (c journalCodec[T]) Size(*T) int { return -1 }
func (c journalCodec[T]) Append(dst []byte, _ *T) ([]byte, error) {
	return dst, errors.New("bridge: Send's queue handle does not put")
}

func (c journalCodec[T]) Decode(src []byte, _ *T) error {
	at("claimed")
	if err := c.s.tooLarge(len(src)); err != nil {
		return err // the queue drops it and Get reports it: never journalled
	}
	if err := c.s.j.record(c.s.cur, src); err != nil {
		return err
	}
	c.s.filled = true
	at("committed")
	return nil
}
