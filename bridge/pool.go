package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/pool"
)

// Headers of a task message and of its result.
const (
	hdrFunc      = "Shmkit-Func"
	hdrChunk     = "Shmkit-Chunk"
	hdrCount     = "Shmkit-Count"
	hdrReply     = "Shmkit-Reply"
	hdrHost      = "Shmkit-Host"
	hdrDelivered = "Shmkit-Delivered"
	hdrError     = "Shmkit-Error"
	hdrDied      = "Shmkit-Worker-Died"
)

const (
	defaultTaskConsumer = "shmkit-pool"
	defaultChunk        = 256
)

// TaskOptions configure ServeTasks on a host that adds its workers, and
// Map on a host that calls. Every host of one pool names the same Stream.
type TaskOptions struct {
	// Stream is the work-queue stream of the pool's tasks, made beforehand
	// with TaskStreamConfig. Required.
	Stream string
	// Consumer is the durable consumer the hosts share; "" means
	// "shmkit-pool".
	Consumer string
	// AckWait is how long a task taken by a host that stopped answering
	// (dead, cut off) waits before it runs again on another: 0 means 30 s.
	// A chunk must run in less: a host takes a chunk only when it can run
	// it at once, so AckWait counts the chunk's run, not a wait for a
	// slot. ServeTasks sets it on the consumer, which the hosts share:
	// give every host the same.
	AckWait time.Duration
	// Concurrency is the number of chunks a ServeTasks runs at once on
	// its pool, and the most it holds: it pulls none ahead of a free
	// slot. 0 means the pool's Processes.
	Concurrency int
	// Host names this host in results (MapStats.Hosts); "" means the
	// host name and process id.
	Host string
	// Chunksize is the number of tasks in one message of Map; 0 means 256.
	// A chunk is a round trip through the stream (about 0.5 ms on loopback):
	// make it hold much more work than that.
	Chunksize int
}

func (o TaskOptions) withDefaults() TaskOptions {
	if o.Consumer == "" {
		o.Consumer = defaultTaskConsumer
	}
	if o.AckWait <= 0 {
		o.AckWait = defaultAckWait
	}
	if o.Host == "" {
		h, _ := os.Hostname()
		o.Host = h + ":" + strconv.Itoa(os.Getpid())
	}
	if o.Chunksize <= 0 {
		o.Chunksize = defaultChunk
	}
	return o
}

func taskSubject(stream string) string { return stream + ".tasks" }

// TaskStreamConfig returns the configuration of the stream that carries a
// pool's tasks between hosts: work-queue retention on the subjects
// "<name>.tasks.>", file storage, one replica (3 on a cluster), and
// StreamConfig's duplicate window. Results do not go through it: they
// travel to the calling process directly, on "<name>.results.<call>".
func TaskStreamConfig(name string) jetstream.StreamConfig {
	return StreamConfig(name, taskSubject(name)+".>")
}

// RemoteFunc is a pool function that hosts run for each other: Remote
// registers it, at package initialisation, in every process of the
// program, as pool.Register does.
type RemoteFunc[In, Out any] struct {
	f   *pool.Func[In, Out]
	in  codec.Codec[In]
	out codec.Codec[Out]
}

// remoteRunner runs a chunk of a RemoteFunc on a local pool.
type remoteRunner interface {
	run(ctx context.Context, p *pool.Pool, payload []byte, n int) ([]byte, error)
}

var remotes = struct {
	sync.RWMutex
	m map[string]remoteRunner
}{m: make(map[string]remoteRunner)}

// Remote makes f runnable by other hosts' pools, under f's name. Call it
// at package initialisation, beside pool.Register. It panics if f's name
// is registered twice.
func Remote[In, Out any](f *pool.Func[In, Out]) *RemoteFunc[In, Out] {
	r := &RemoteFunc[In, Out]{f: f, in: codec.Default[In](), out: codec.Default[Out]()}
	remotes.Lock()
	defer remotes.Unlock()
	if _, dup := remotes.m[f.Name()]; dup {
		panic("bridge: remote function " + f.Name() + " registered twice")
	}
	remotes.m[f.Name()] = r
	return r
}

func (r *RemoteFunc[In, Out]) run(ctx context.Context, p *pool.Pool, payload []byte, n int) ([]byte, error) {
	ins, err := decodeAll(r.in, payload, n)
	if err != nil {
		return nil, err
	}
	outs, err := pool.Map(ctx, p, r.f, ins)
	if err != nil {
		return nil, err
	}
	return appendAll(nil, r.out, outs)
}

// appendAll appends each value's encoding, preceded by its length.
func appendAll[T any](dst []byte, c codec.Codec[T], vs []T) ([]byte, error) {
	var tmp []byte
	for i := range vs {
		var err error
		if tmp, err = c.Append(tmp[:0], &vs[i]); err != nil {
			return nil, err
		}
		dst = binary.AppendUvarint(dst, uint64(len(tmp)))
		dst = append(dst, tmp...)
	}
	return dst, nil
}

// decodeAll decodes n values that appendAll encoded. n comes from the
// message's header, as b from its body: a count that b cannot hold (each
// value takes at least its length's byte) is refused before anything is
// made for it, rather than panicking in make (negative) or allocating for
// a count a peer made up.
func decodeAll[T any](c codec.Codec[T], b []byte, n int) ([]T, error) {
	if n < 0 || n > len(b) {
		return nil, fmt.Errorf("bridge: malformed chunk: %d values in %d bytes", n, len(b))
	}
	vs := make([]T, n)
	for i := range vs {
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, fmt.Errorf("bridge: malformed chunk at value %d", i)
		}
		if err := c.Decode(b[k:k+int(size)], &vs[i]); err != nil {
			return nil, err
		}
		b = b[k+int(size):]
	}
	if len(b) != 0 {
		return nil, errors.New("bridge: malformed chunk: bytes left over")
	}
	return vs, nil
}

// MapStats says how a Map's chunks ran.
type MapStats struct {
	Chunks int
	// Rerun counts the chunks whose result came from a second or later
	// delivery: their first host died or stopped before answering.
	Rerun int
	// Duplicates counts the results dropped because their chunk already
	// had one (a host that answered and died before its acknowledgement).
	Duplicates int
	// Hosts counts the chunks each host's result was kept from.
	Hosts map[string]int
}

// Map runs f on each of in on the pool of hosts serving o.Stream
// (ServeTasks), in chunks of o.Chunksize tasks, and returns the results in
// input order, as pool.Map does on one host. Each chunk is one message,
// published under a message id so that a retried publish is stored once;
// each chunk's first result counts and a second is dropped. A chunk that
// failed on its host (a task's error, a local worker's death: matching
// pool.ErrWorkerDied) makes Map return an error that names it, beside the
// results of the others. When ctx ends, the call's chunks still in the
// stream are removed and Map returns ctx's error. A result sent while js's
// connection is away (reconnecting) is lost: once the connection is back,
// Map publishes the chunks it has no result for again, so they run again.
// So it does when the connection goes while the stream's acknowledgements
// of its publications are on their way (they fail, though the chunks may
// be stored): Map waits for the connection, not failing.
func (f *RemoteFunc[In, Out]) Map(ctx context.Context, js jetstream.JetStream, in []In, o TaskOptions) ([]Out, MapStats, error) {
	o = o.withDefaults()
	stats := MapStats{Hosts: make(map[string]int)}
	out := make([]Out, len(in))
	if len(in) == 0 {
		return out, stats, nil
	}
	nc := js.Conn()
	call := randomID()
	inbox := o.Stream + ".results." + call
	// Results travel as plain NATS messages: one that a host sends while
	// this connection is away (reconnecting) reaches nobody, and the host
	// has acknowledged its chunk, so that nothing would send it again and
	// Map would wait for it for ever. Each time the connection is back,
	// Map publishes the chunks it has no result for again, under new ids
	// (a chunk still in the stream then runs twice; its second result
	// counts in Duplicates). Registered before the first publish, so that
	// no reconnect goes unseen.
	status := nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)
	results := make(chan *nats.Msg)
	returned := make(chan struct{})
	defer close(returned)
	sub, err := nc.Subscribe(inbox, func(msg *nats.Msg) {
		select {
		case results <- msg:
		case <-returned: // nobody waits for it any more
		}
	})
	if err != nil {
		return nil, stats, err
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	subject := taskSubject(o.Stream) + "." + call
	chunks := (len(in) + o.Chunksize - 1) / o.Chunksize
	stats.Chunks = chunks
	purge := func() {
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s, err := js.Stream(pctx, o.Stream); err == nil {
			s.Purge(pctx, jetstream.WithPurgeSubject(subject))
		}
	}
	// settle waits, up to 5 s, until the stream has answered for each of
	// futures.
	settle := func(futures []jetstream.PubAckFuture) {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		for _, fut := range futures {
			select {
			case <-fut.Ok():
			case <-fut.Err():
			case <-ctx.Done():
				return
			case <-t.C:
				return
			}
		}
	}
	// publish publishes the chunks cs, under ids of the round'th
	// publication (the first's are <call>-<chunk>), and waits until the
	// stream has them.
	var buf []byte
	publish := func(cs []int, round int) error {
		var futures []jetstream.PubAckFuture
		for _, c := range cs {
			lo, hi := c*o.Chunksize, min((c+1)*o.Chunksize, len(in))
			if buf, err = appendAll(buf[:0], f.in, in[lo:hi]); err != nil {
				return err
			}
			msg := nats.NewMsg(subject)
			msg.Header.Set(hdrFunc, f.f.Name())
			msg.Header.Set(hdrChunk, strconv.Itoa(c))
			msg.Header.Set(hdrCount, strconv.Itoa(hi-lo))
			msg.Header.Set(hdrReply, inbox)
			msg.Data = append([]byte(nil), buf...)
			id := call + "-" + strconv.Itoa(c)
			if round > 0 {
				id += "." + strconv.Itoa(round)
			}
			fut, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
			if err != nil {
				if !errors.Is(err, nats.ErrDisconnected) { // see publishAll
					// The chunks published already would run for
					// nobody: removed once the stream has them.
					settle(futures)
					purge()
				}
				return err
			}
			futures = append(futures, fut)
		}
		for _, fut := range futures {
			select {
			case <-fut.Ok():
			case err := <-fut.Err():
				if errors.Is(err, nats.ErrDisconnected) {
					return err // see publishAll: the chunks stay in the stream
				}
				purge()
				return fmt.Errorf("bridge: publishing a chunk: %w", err)
			case <-ctx.Done():
				purge()
				return ctx.Err()
			}
		}
		return nil
	}
	done := make([]bool, chunks)
	round := 0 // publications after the first
	// publishAll publishes the chunks Map has no result for: all of them
	// at first, and again under a new round's ids each time the
	// connection is back from a reconnect (the results sent meanwhile are
	// lost). A connection lost while the stream's acknowledgements were on
	// their way fails them (nats.ErrDisconnected, from the jetstream
	// client) although the chunks may be stored: that is a reconnect too,
	// waited for and answered the same way, not Map's failure.
	publishAll := func() error {
		for {
			var missing []int
			for c, ok := range done {
				if !ok {
					missing = append(missing, c)
				}
			}
			err := publish(missing, round)
			if !errors.Is(err, nats.ErrDisconnected) {
				return err
			}
			// The client fails the acknowledgements from a goroutine of
			// its own, which may run after the connection is back and
			// after this Map saw it back and published again: then no
			// CONNECTED is to come, and the chunks go again at once.
			if !nc.IsConnected() {
				select {
				case st := <-status:
					if st == nats.CLOSED {
						return nats.ErrConnectionClosed
					}
				case <-ctx.Done():
					purge()
					return ctx.Err()
				}
			}
			round++
		}
	}
	if err := publishAll(); err != nil {
		return nil, stats, err
	}
	var errs []error
	for left := chunks; left > 0; {
		var msg *nats.Msg
		select {
		case msg = <-results:
		case st := <-status:
			if st == nats.CLOSED {
				return nil, stats, nats.ErrConnectionClosed
			}
			round++
			if err := publishAll(); err != nil {
				return nil, stats, err
			}
			continue
		case <-ctx.Done():
			purge()
			return nil, stats, ctx.Err()
		}
		c, err := strconv.Atoi(msg.Header.Get(hdrChunk))
		if err != nil || c < 0 || c >= chunks {
			continue
		}
		if done[c] {
			stats.Duplicates++
			continue
		}
		done[c] = true
		left--
		host := msg.Header.Get(hdrHost)
		stats.Hosts[host]++
		if d, _ := strconv.Atoi(msg.Header.Get(hdrDelivered)); d > 1 {
			stats.Rerun++
		}
		lo, hi := c*o.Chunksize, min((c+1)*o.Chunksize, len(in))
		if e := msg.Header.Get(hdrError); e != "" {
			err := fmt.Errorf("bridge: chunk %d (tasks %d to %d) on host %s: %s", c, lo, hi-1, host, e)
			if msg.Header.Get(hdrDied) != "" {
				err = fmt.Errorf("%w: %w", pool.ErrWorkerDied, err)
			}
			errs = append(errs, err)
			continue
		}
		vs, err := decodeAll(f.out, msg.Data, hi-lo)
		if err != nil {
			errs = append(errs, fmt.Errorf("bridge: chunk %d: %w", c, err))
			continue
		}
		copy(out[lo:hi], vs)
	}
	return out, stats, errors.Join(errs...)
}
