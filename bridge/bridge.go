package bridge

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/shm"
)

// Options configure a Send or a Receive. Every host bridging one logical
// queue names the same Stream (and Subject), and every receiving host the
// same Consumer, so that the hosts share its messages.
type Options[T any] struct {
	// Stream is the JetStream stream, made beforehand (StreamConfig gives a
	// work-queue stream). Required.
	Stream string
	// Subject is what Send publishes to (one of the stream's subjects), and
	// Receive's filter; "" means Stream.
	Subject string
	// Consumer is the durable pull consumer Receive takes messages from,
	// shared by every receiving host; "" means "shmkit-bridge". Receive
	// creates it, or updates it to these options.
	Consumer string
	// Codec is the local queue's codec; nil means codec.Default[T](). The
	// bytes on the wire are its encoding.
	Codec codec.Codec[T]
	// Window bounds the messages Send has published and JetStream has not
	// acknowledged yet (and so the journal's entries); 0 means 256. An
	// existing journal keeps the window it was made with.
	Window int
	// Batch is the number of messages Receive pulls ahead of the local
	// queue; 0 means 256.
	Batch int
	// AckWait is how long JetStream waits for Receive's acknowledgement of
	// a message before delivering it again (perhaps to another host); 0
	// means 30 s. Receive extends it while the local queue is full.
	AckWait time.Duration
	// Journal is the segment that holds Send's journal: it must outlive
	// the bridge process, as the queue's own segment does; nil means the
	// queue's segment. It needs JournalSize(Window, m) free bytes the
	// first time, m the smaller of the queue's MaxMessage and the
	// server's max_payload.
	Journal *shm.Segment
}

const (
	defaultWindow   = 256
	defaultBatch    = 256
	defaultAckWait  = 30 * time.Second
	defaultConsumer = "shmkit-bridge"
	// stopGrace bounds how long a Send stopped by its context waits for
	// the acknowledgements of the messages in flight: those still
	// unacknowledged stay in the journal for the next Send.
	stopGrace = 5 * time.Second
	// ackTimeout is how long Send waits for JetStream's answer to a
	// publish before it publishes the message again (same id).
	ackTimeout = 5 * time.Second
	// dedupeWindow is StreamConfig's duplicate window: a message published
	// again within it under the same id is stored once.
	dedupeWindow = 2 * time.Minute
)

func (o Options[T]) withDefaults() Options[T] {
	if o.Subject == "" {
		o.Subject = o.Stream
	}
	if o.Consumer == "" {
		o.Consumer = defaultConsumer
	}
	o.Codec = codec.OrDefault(o.Codec)
	if o.Window <= 0 {
		o.Window = defaultWindow
	}
	if o.Batch <= 0 {
		o.Batch = defaultBatch
	}
	if o.AckWait <= 0 {
		o.AckWait = defaultAckWait
	}
	return o
}

// StreamConfig returns the configuration of a stream that carries a
// bridged queue: work-queue retention (a message is removed once a
// consumer acknowledges it), file storage, one replica, and a two-minute
// duplicate window (Send's guarantee holds for a bridge restarted within
// it). Set Replicas to 3 on a cluster so that the stream survives a node.
// Pass it to jetstream.JetStream's CreateOrUpdateStream.
func StreamConfig(name string, subjects ...string) jetstream.StreamConfig {
	if len(subjects) == 0 {
		subjects = []string{name}
	}
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   1,
		Duplicates: dedupeWindow,
	}
}

// cancelOnClose calls cancel when nc closes (at once when it is closed
// already: no event comes then), listening until ctx ends; the func it
// returns removes the listener.
func cancelOnClose(ctx context.Context, nc *nats.Conn, cancel context.CancelFunc) (remove func()) {
	closed := nc.StatusChanged(nats.CLOSED)
	go func() {
		select {
		case <-closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	if nc.IsClosed() {
		cancel()
	}
	return func() { nc.RemoveStatusListener(closed) }
}

// hook, when set (by tests only), is called at the named points of Send
// and Receive; a test child holds there to be killed.
var hook func(point string)

func at(point string) {
	if hook != nil {
		hook(point)
	}
}
