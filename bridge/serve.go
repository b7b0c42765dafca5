package bridge

// The hosts' side of the remote pool: ServeTasks takes chunks from the
// task stream for its pool's free slots, runs them and answers them.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/pool"
)

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
// (an error matching nats.ErrConnectionClosed), its consumer is deleted
// (an error matching jetstream.ErrConsumerDeleted), or a chunk finds p
// closed or terminated (an error matching pool.ErrClosed: the chunk goes
// back to the stream, for another host). On ctx's end the chunks it was
// running go back to the stream at once (negative acknowledgement), as
// does one that reaches it after the stop; one still on its way then runs
// again after AckWait, as do the chunks of a host that dies. On the other
// stops it returns once the chunks it was running have ended (a chunk it
// can no longer answer runs again after AckWait). The same binary runs it
// on each host, beside its own calls.
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
	// heartbeat.
	nc := js.Conn()
	defer cancelOnClose(fctx, nc, stopFetch)()
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
		case errors.Is(err, nats.ErrNoResponders) && consumerGone(fctx, cons):
			// Deleted while no pull of ours waited (every slot busy): the
			// next pull had nobody to answer it (TestServeTasksConsumerDeletedBetweenPulls).
			return fmt.Errorf("bridge: serving tasks: %w (%w)", jetstream.ErrConsumerDeleted, err)
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

// consumerGone reports whether cons is no longer on the server, as far as
// its info says within 5 s.
func consumerGone(ctx context.Context, cons jetstream.Consumer) bool {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cons.Info(ictx)
	return errors.Is(err, jetstream.ErrConsumerNotFound)
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
