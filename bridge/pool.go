package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
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

// ServeTasks adds p's workers to the pool of hosts sharing o.Stream: it
// takes chunks of tasks of Remote functions from the stream (a durable
// consumer shared by every host), runs each on p with pool.Map, sends the
// results to the caller, and only then acknowledges the chunk. It takes a
// chunk only for one of its o.Concurrency slots that is free, and runs it
// at once: a chunk's AckWait runs while the chunk runs, never while it
// waits behind others. Each pull asks for as many chunks as slots are free
// (a round trip to the server per pull); it expires every few seconds,
// with heartbeats every second, so that a pull parked on a server that
// died is noticed and made again within seconds.
//
// It runs until ctx is done (then returns nil), js's connection is closed
// (an error matching nats.ErrConnectionClosed), or a chunk finds p closed
// or terminated (an error matching pool.ErrClosed: the chunk goes back to
// the stream, for another host); the chunks it was running then go back to
// the stream at once (negative acknowledgement), as does one that reaches
// it after the stop; one still on its way then runs again after AckWait,
// as do the chunks of a host that dies. The same binary runs it on each
// host, beside its own calls.
func ServeTasks(ctx context.Context, js jetstream.JetStream, p *pool.Pool, o TaskOptions) error {
	o = o.withDefaults()
	if o.Concurrency <= 0 {
		o.Concurrency = p.Processes()
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, o.Stream, jetstream.ConsumerConfig{
		Durable:       o.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		FilterSubject: taskSubject(o.Stream) + ".>",
	})
	if err != nil {
		if ctx.Err() != nil { // stopped as it starts: an ordinary stop, as Receive's
			return nil
		}
		return err
	}
	// fctx ends the pull in progress: when ctx is done, or a chunk found
	// the pool closed. It has none of ctx's deadline: each pull sets its
	// own (fetch).
	fctx, stopFetch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFetch()
	stop := context.AfterFunc(ctx, stopFetch)
	defer stop()
	// A closed connection ends the pull at once, not at its missed
	// heartbeat. Closed before the listener was there, it fails the
	// next pull.
	nc := js.Conn()
	closed := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closed)
	go func() {
		select {
		case <-closed:
			stopFetch()
		case <-fctx.Done():
		}
	}()
	at("serving")
	sem := make(chan struct{}, o.Concurrency) // a token per slot taken
	var wg sync.WaitGroup
	defer wg.Wait()
	// A pool closed or terminated runs no chunk: the chunk that found it
	// so went back to the stream (runTask), and this host takes no more,
	// which it would only give back in turn.
	var poolClosed atomic.Bool
	run := func(msg jetstream.Msg) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if !runTask(ctx, nc, p, msg, o.Host) {
				poolClosed.Store(true) // publishes: the pool is closed, for the loop
				stopFetch()
			}
		}()
	}
	for {
		// A slot first, then a chunk for it. A chunk taken is delivered
		// and unacknowledged, its AckWait running: one taken ahead, to wait
		// for a slot behind running chunks, passed AckWait unrun and was
		// delivered again, to run twice (TestServeTasksNoPullAhead).
		free := 0 // slots taken for this pull
		select {
		case sem <- struct{}{}:
			free = 1
		case <-fctx.Done():
		}
	slots:
		for free > 0 && free < o.Concurrency {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break slots
			}
		}
		began := time.Now()
		var took int
		var err error
		if free > 0 && fctx.Err() == nil {
			took, err = fetch(fctx, cons, free, run)
		}
		for range free - took {
			<-sem
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case poolClosed.Load(): // observes: a task's pool.ErrClosed, before its stopFetch
			return fmt.Errorf("bridge: serving tasks: %w", pool.ErrClosed)
		case nc.IsClosed(): // jetstream's own sentinel, or none: say it as nats.go does
			if err == nil || errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("bridge: serving tasks: %w", nats.ErrConnectionClosed)
			}
			return fmt.Errorf("bridge: serving tasks: %w (%w)", nats.ErrConnectionClosed, err)
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrBadRequest):
			return fmt.Errorf("bridge: serving tasks: %w", err)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			// A missed heartbeat (a loaded host or server, or a connection
			// away), a new leader of the consumer, a server shutting down:
			// pull again, at most once a second when the error came at
			// once. (An expired pull, nil or its context's deadline, pulls
			// again at once.)
			if wait := time.Second - time.Since(began); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-fctx.Done():
				}
				t.Stop()
			}
		}
	}
}

// fetch pulls up to n chunks from cons and hands each to run as it comes,
// and returns how many it handed and the error that ended the pull: nil or
// context.DeadlineExceeded when the pull expired or got its n. A chunk that
// comes once fctx is done goes back to the stream at once.
func fetch(fctx context.Context, cons jetstream.Consumer, n int, run func(jetstream.Msg)) (int, error) {
	// The pull expires on the server 4.5 s on (FetchContext leaves a tenth
	// of the context's time for the answer), with a heartbeat every second:
	// one parked on a server that died ends (jetstream.ErrNoHeartbeat)
	// within two.
	rctx, cancel := context.WithTimeout(fctx, pullExpiry)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(rctx), jetstream.FetchHeartbeat(time.Second))
	if err != nil {
		return 0, err
	}
	took := 0
	for msg := range batch.Messages() {
		if fctx.Err() != nil { // stopped: the chunk runs elsewhere
			msg.Nak()
			continue
		}
		took++
		run(msg)
	}
	return took, batch.Error()
}

// runTask runs one chunk and answers it; a chunk it cannot answer (ctx
// done, connection gone) is left unacknowledged, to run again. A chunk
// that p, closed or terminated, did not run goes back to the stream at
// once, and runTask reports false.
func runTask(ctx context.Context, nc *nats.Conn, p *pool.Pool, msg jetstream.Msg, host string) bool {
	at("task")
	h := msg.Headers()
	reply := nats.NewMsg(h.Get(hdrReply))
	reply.Header.Set(hdrChunk, h.Get(hdrChunk))
	reply.Header.Set(hdrHost, host)
	if md, err := msg.Metadata(); err == nil {
		reply.Header.Set(hdrDelivered, strconv.FormatUint(md.NumDelivered, 10))
	}
	remotes.RLock()
	r := remotes.m[h.Get(hdrFunc)]
	remotes.RUnlock()
	n, err := strconv.Atoi(h.Get(hdrCount))
	switch {
	case r == nil:
		err = fmt.Errorf("%w: %q on host %s", pool.ErrNotRegistered, h.Get(hdrFunc), host)
	case err == nil:
		reply.Data, err = r.run(ctx, p, msg.Data(), n)
	}
	if ctx.Err() != nil {
		msg.Nak()
		return true
	}
	if errors.Is(err, pool.ErrClosed) {
		// The host's pool, not the chunk, failed: answered, the chunk
		// was lost to the caller, who had a result from no task of it
		// (TestServeTasksPoolClosed). Another host runs it.
		msg.Nak()
		return false
	}
	if err != nil {
		reply.Data = nil
		reply.Header.Set(hdrError, err.Error())
		if errors.Is(err, pool.ErrWorkerDied) {
			reply.Header.Set(hdrDied, "1")
		}
	}
	if err := nc.PublishMsg(reply); err != nil {
		return true
	}
	at("answered")
	msg.Ack()
	return true
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
