package bridge_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/queue"
)

type msg64 = [64]byte

const (
	benchWindow = 256
	benchBatch  = 256
)

// BenchmarkBridge measures one-way throughput of 64-byte messages, in one
// run and on one server:
//
//   - local: a shared-memory queue, Put in one goroutine, Get in another
//     (what a host does without the bridge);
//   - jetstream: the same client publishing asynchronously with message
//     ids, at most benchWindow unacknowledged, and a pull consumer taking
//     and acknowledging them (JetStream's own rate, the bridge's ceiling);
//   - bridged: Put on a local queue, Send, the stream, Receive, Get from
//     another local queue.
//
// The bridge aims at 80% of jetstream.
func BenchmarkBridge(b *testing.B) {
	s := startServer(b)
	js := connect(b, s.ClientURL())
	b.Run("local", func(b *testing.B) {
		q := benchQueue(b)
		run(b, func(ctx context.Context, n int) {
			for i := range n {
				if err := q.Put(ctx, msg64{byte(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		}, func(ctx context.Context, n int) {
			var v msg64
			for range n {
				if err := q.GetInto(ctx, &v); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("jetstream", func(b *testing.B) {
		stream := benchStream(b, js, "BJ")
		cons, err := js.CreateOrUpdateConsumer(b.Context(), stream, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
		if err != nil {
			b.Fatal(err)
		}
		run(b, func(ctx context.Context, n int) {
			acks := make(chan jetstream.PubAckFuture, benchWindow)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for f := range acks {
					select {
					case <-f.Ok():
					case err := <-f.Err():
						b.Error(err)
					}
				}
			}()
			data := make([]byte, 64)
			for i := range n {
				data[0] = byte(i)
				f, err := js.PublishMsgAsync(&nats.Msg{Subject: stream, Data: data}, jetstream.WithMsgID("b-"+strconv.Itoa(i)))
				if err != nil {
					b.Error(err)
					break
				}
				acks <- f
			}
			close(acks)
			<-done
		}, func(ctx context.Context, n int) {
			it, err := cons.Messages(jetstream.PullMaxMessages(benchBatch))
			if err != nil {
				b.Error(err)
				return
			}
			defer it.Stop()
			var v msg64
			for range n {
				m, err := it.Next(jetstream.NextContext(ctx))
				if err != nil {
					b.Error(err)
					return
				}
				copy(v[:], m.Data()) // what a Put into a queue would copy
				m.Ack()
			}
		})
	})
	b.Run("bridged", func(b *testing.B) {
		stream := benchStream(b, js, "BB")
		src, dst := benchQueue(b), benchQueue(b)
		o := bridge.Options[msg64]{Stream: stream, Window: benchWindow, Batch: benchBatch}
		ctx, stop := context.WithCancel(b.Context())
		done := make(chan error, 2)
		go func() { done <- bridge.Send(ctx, js, src, o) }()
		go func() { done <- bridge.Receive(ctx, js, dst, o) }()
		run(b, func(ctx context.Context, n int) {
			for i := range n {
				if err := src.Put(ctx, msg64{byte(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		}, func(ctx context.Context, n int) {
			var v msg64
			for range n {
				if err := dst.GetInto(ctx, &v); err != nil {
					b.Error(err)
					return
				}
			}
		})
		stop()
		for range 2 {
			if err := <-done; err != nil {
				b.Error(err)
			}
		}
	})
}

// run times b.N messages from produce, in a goroutine, to consume, which
// returns once it has them all.
func run(b *testing.B, produce, consume func(ctx context.Context, n int)) {
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	n := b.N
	b.ResetTimer()
	start := time.Now()
	go produce(ctx, n)
	consume(ctx, n)
	benchutil.ReportRate(b, n, 64, time.Since(start))
}

func benchQueue(b *testing.B) *queue.Queue[msg64] {
	q, err := queue.New(queue.Options[msg64]{MaxSize: 4096})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	return q
}

// benchStream makes a fresh stream called name (the benchmark runs its
// function several times) and deletes it at the end.
func benchStream(b *testing.B, js jetstream.JetStream, name string) string {
	ctx := context.Background()
	js.DeleteStream(ctx, name)
	makeStream(b, ctx, js, name, 1)
	b.Cleanup(func() { js.DeleteStream(ctx, name) })
	return name
}
