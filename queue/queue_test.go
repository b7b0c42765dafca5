package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// ctxT is done 30 s on, or when t ends, before its cleanups: goroutines
// waiting with it return before the segment is unmapped.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestZeroSizeMessages: a queue of struct{} (a signal, Python's
// q.put(None)) carries messages of no bytes through Put, TryPut, PutBatch,
// Get and GetBatch, held to its MaxSize.
func TestZeroSizeMessages(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[struct{}]{MaxSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := q.Put(ctx, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if n, err := q.PutBatch(ctx, make([]struct{}, 2)); n != 2 || err != nil {
		t.Fatalf("PutBatch = %d, %v", n, err)
	}
	if ok, err := q.TryPut(struct{}{}); ok || err != nil || q.Len() != 3 {
		t.Fatalf("TryPut on a full queue of 3 = %v, %v (Len %d)", ok, err, q.Len())
	}
	if _, err := q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.GetBatch(ctx, make([]struct{}, 4)); n != 2 || err != nil {
		t.Fatalf("GetBatch = %d, %v", n, err)
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestCreateFitsDocumentedSize: a segment sized as Create's doc says
// (Options.MaxSize: the ring's slots, up to 4 × MaxSize, of MaxMessage+16
// bytes rounded up to a cache line, plus 7 KiB) holds the queue, for
// bounds that are powers of two and bounds that are not. MaxSize 4 of
// [64]byte and 8 of int64 get exactly 4 × MaxSize slots in a ring that
// ends half a page in, so the segment's rounding to whole pages leaves
// no slack beyond the documented overhead.
func TestCreateFitsDocumentedSize(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 8, 9, 17, 33, 64, 65, 100, 129, 1000, 2048, 4096}
	type capCloser interface {
		Cap() int
		Close() error
	}
	check := func(t *testing.T, maxSize int, stride int64, create func(seg *shm.Segment) (capCloser, error)) {
		t.Helper()
		size := int64(4*maxSize)*stride + 7<<10
		seg := shmtest.Segment(t, size)
		q, err := create(seg)
		if err != nil {
			t.Fatalf("MaxSize %d, %d-byte slots, in a segment of %d bytes: %v", maxSize, stride, size, err)
		}
		if q.Cap() != maxSize {
			t.Fatalf("MaxSize %d: Cap %d", maxSize, q.Cap())
		}
		q.Close()
	}
	for _, maxSize := range sizes {
		// a [64]byte message and its 16-byte header, in cache lines
		check(t, maxSize, 128, func(seg *shm.Segment) (capCloser, error) {
			return queue.Create(seg, "q", queue.Options[[64]byte]{MaxSize: maxSize})
		})
		// an int64 and its header: one cache line
		check(t, maxSize, 64, func(seg *shm.Segment) (capCloser, error) {
			return queue.Create(seg, "q", queue.Options[int64]{MaxSize: maxSize})
		})
	}
}

// TestHugeMaxSizeRefused: a MaxSize no ring can hold is an error from New
// and Create, at once (not a hang sizing the ring, nor a segment of it).
func TestHugeMaxSizeRefused(t *testing.T) {
	for _, n := range []int{math.MaxInt, 1<<62 + 1, ringbuf.MaxCapacity + 1} {
		if q, err := queue.Create(shmtest.Segment(t, 1<<20), "q", queue.Options[int64]{MaxSize: n}); err == nil {
			q.Close()
			t.Fatalf("Create with MaxSize %d succeeded", n)
		}
		if q, err := queue.New(queue.Options[int64]{MaxSize: n}); err == nil {
			q.Close()
			t.Fatalf("New with MaxSize %d succeeded", n)
		}
	}
}

func TestPutGetFIFO(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if !q.Empty() || q.Full() || q.Cap() != 8 || q.MaxMessage() != 8 {
		t.Fatalf("fresh queue: empty %v full %v cap %d max %d", q.Empty(), q.Full(), q.Cap(), q.MaxMessage())
	}
	for i := range int64(8) {
		if err := q.Put(ctx, i*i); err != nil {
			t.Fatal(err)
		}
	}
	if !q.Full() || q.Len() != 8 {
		t.Fatalf("Len %d Full %v after 8 puts", q.Len(), q.Full())
	}
	if ok, err := q.TryPut(99); ok || err != nil {
		t.Fatalf("TryPut on a full queue = %v, %v", ok, err)
	}
	for i := range int64(8) {
		v, err := q.Get(ctx)
		if err != nil || v != i*i {
			t.Fatalf("Get = %d, %v; want %d", v, err, i*i)
		}
	}
	if _, ok, err := q.TryGet(); ok || err != nil {
		t.Fatalf("TryGet on an empty queue = %v, %v", ok, err)
	}
	// Open by name sees the same queue; a different type is refused.
	q2, err := queue.Open(seg, "q", queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	q2.Put(ctx, 5)
	if v, _ := q.Get(ctx); v != 5 {
		t.Fatalf("Get through the other handle = %d", v)
	}
	if _, err := queue.Open(seg, "q", queue.Options[int32]{}); err == nil {
		t.Fatal("Open with another type succeeded")
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

func TestGetDeadline(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on empty queue = %v, want deadline", err)
	}
	// A waiting Get is woken by a Put from another goroutine.
	done := make(chan string)
	go func() {
		v, _ := q.Get(ctxT(t))
		done <- v
	}()
	q.Put(ctxT(t), "wake")
	if v := <-done; v != "wake" {
		t.Fatalf("woken Get = %q", v)
	}
}

func TestShutdown(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	q.Put(ctx, "a")
	q.Put(ctx, "b")
	// Two consumers parked on an empty queue are all released by one Shutdown.
	q3, _ := queue.Create(seg, "empty", queue.Options[int]{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := q3.Get(ctx)
			errs <- err
		}()
	}
	q3.Shutdown()
	q.Shutdown()
	wg.Wait()
	for range 2 {
		if err := <-errs; !errors.Is(err, queue.ErrShutdown) {
			t.Fatalf("parked Get after Shutdown = %v", err)
		}
	}
	if err := q.Put(ctx, "c"); !errors.Is(err, queue.ErrShutdown) {
		t.Fatalf("Put after Shutdown = %v", err)
	}
	for _, want := range []string{"a", "b"} {
		if v, err := q.Get(ctx); v != want || err != nil {
			t.Fatalf("drain Get = %q, %v; want %q", v, err, want)
		}
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrShutdown) {
		t.Fatalf("Get on a shut-down empty queue = %v", err)
	}
}

func TestBounds(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, err := queue.Create(seg, "q", queue.Options[[]byte]{MaxSize: 3, MaxMessage: 100, MaxBytes: 150, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	err = q.Put(ctxT(t), make([]byte, 101))
	if !errors.Is(err, queue.ErrTooLarge) || !strings.Contains(err.Error(), "100 bytes") {
		t.Fatalf("oversize Put = %v", err)
	}
	ok1, _ := q.TryPut(make([]byte, 100))
	ok2, _ := q.TryPut(make([]byte, 60)) // 160 > 150
	ok3, _ := q.TryPut(make([]byte, 50))
	if !ok1 || ok2 || !ok3 || !q.Full() {
		t.Fatalf("byte bound: %v %v %v full %v", ok1, ok2, ok3, q.Full())
	}
	q.TryGet()
	q.TryGet()
	for i := range 3 {
		if ok, _ := q.TryPut([]byte{byte(i)}); !ok {
			t.Fatalf("put %d under MaxSize 3 refused", i)
		}
	}
	if ok, _ := q.TryPut([]byte{9}); ok {
		t.Fatal("4th put under MaxSize 3 accepted")
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestMaxBytesWhereItBinds: a MaxBytes below MaxSize × the message size
// holds a queue of fixed-size messages under it, by Put and by PutBatch;
// one at or above it cannot bind (the queue skips the check, and its Put
// and Get take the uncounted path), and the queue holds exactly MaxSize.
func TestMaxBytesWhereItBinds(t *testing.T) {
	type msg [64]byte
	for _, c := range []struct {
		maxBytes int64
		holds    int
	}{{200, 3}, {255, 3}, {256, 4}, {1 << 20, 4}} {
		seg := shmtest.Segment(t, 1<<20)
		q, err := queue.Create(seg, "q", queue.Options[msg]{MaxSize: 4, MaxBytes: c.maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		for round := range 3 {
			n := 0
			if round == 1 {
				k, err := q.PutBatch(ctx, make([]msg, c.holds))
				if k != c.holds || err != nil {
					t.Fatalf("MaxBytes %d: PutBatch of %d = %d, %v", c.maxBytes, c.holds, k, err)
				}
				n = k
			}
			for ; ; n++ {
				ok, err := q.TryPut(msg{0: byte(n)})
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
			}
			if n != c.holds || !q.Full() || q.Len() != c.holds {
				t.Fatalf("MaxBytes %d, round %d: took %d of 64 bytes (Full %v, Len %d), want %d", c.maxBytes, round, n, q.Full(), q.Len(), c.holds)
			}
			for range n {
				if _, err := q.Get(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := queue.Sane(q); err != nil {
			t.Fatal(err)
		}
		q.Close()
	}
}

type task struct{ A, B int }

func (t task) Product() int { return t.A * t.B }

func TestJoinable(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	j, err := queue.CreateJoinable(seg, "j", queue.Options[task]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := j.Join(ctx); err != nil {
		t.Fatalf("Join on a fresh queue = %v", err)
	}
	for i := range 5 {
		j.Put(ctx, task{i, i + 1})
	}
	joined := make(chan error, 1) // buffered: a t.Fatal below leaves it unread
	shmtest.Go(t, func() { joined <- j.Join(ctx) })
	for range 5 {
		v, err := j.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-joined:
			t.Fatalf("Join returned %v with tasks unfinished (%d)", err, j.Unfinished())
		default:
		}
		_ = v.Product()
		if err := j.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	if err := j.TaskDone(); !errors.Is(err, queue.ErrTaskDone) {
		t.Fatalf("extra TaskDone = %v", err)
	}
	if _, err := queue.OpenJoinable(seg, "j", queue.Options[task]{}); err != nil {
		t.Fatal(err)
	}
}

func TestZeroAllocs(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, _ := queue.Create(seg, "q", queue.Options[int64]{})
	ctx := context.Background()
	q.Put(ctx, 1)
	q.Get(ctx)
	n := testing.AllocsPerRun(1000, func() {
		q.Put(ctx, 7)
		if v, _ := q.Get(ctx); v != 7 {
			panic(v)
		}
	})
	if n != 0 {
		t.Fatalf("Put+Get of int64 with the binary codec: %v allocs", n)
	}
}

// --- across processes -------------------------------------------------

type hammerArgs struct {
	Q       *queue.Queue[int64]
	Results *queue.Queue[[3]int64] // consumer's count, sum, per-producer order violations
	ID, N   int
	Batch   int // > 0: PutBatch (producer), GetBatch (consumer) of Batch values at a time
}

var hammerProducer = process.Register("queue-hammer-producer", func(ctx context.Context, a hammerArgs) error {
	return putSeq(ctx, a.Q, int64(a.ID)<<32, int64(a.N), a.Batch)
})

// putSeq puts tag|0, tag|1, ... tag|(n-1) into q (n 0: until an error),
// batch at a time with PutBatch when batch > 0, else with Put.
func putSeq(ctx context.Context, q *queue.Queue[int64], tag, n int64, batch int) error {
	vs := make([]int64, max(batch, 1))
	for i := int64(0); n == 0 || i < n; {
		k := int64(len(vs))
		if n != 0 {
			k = min(k, n-i)
		}
		for j := range k {
			vs[j] = tag | (i + j)
		}
		if batch == 0 {
			if err := q.Put(ctx, vs[0]); err != nil {
				return err
			}
			i++
			continue
		}
		put, err := q.PutBatch(ctx, vs[:k])
		if err != nil {
			return err
		}
		if put != int(k) {
			return fmt.Errorf("PutBatch of %d put %d with no error", k, put)
		}
		i += k
	}
	return nil
}

var hammerConsumer = process.Register("queue-hammer-consumer", func(ctx context.Context, a hammerArgs) error {
	var r [3]int64
	last := map[int64]int64{}
	vs := make([]int64, max(a.Batch, 1))
	for {
		n, err := 1, error(nil)
		if a.Batch > 0 {
			n, err = a.Q.GetBatch(ctx, vs)
		} else {
			vs[0], err = a.Q.Get(ctx)
		}
		if errors.Is(err, queue.ErrShutdown) {
			break
		}
		if err != nil {
			return err
		}
		for _, v := range vs[:n] {
			p, s := v>>32, v&(1<<32-1)
			if l, ok := last[p]; ok && s <= l {
				r[2]++
			}
			last[p] = s
			r[0]++
			r[1] += v
		}
	}
	return a.Results.Put(ctx, r)
})

func TestHammerProcesses(t *testing.T) {
	n := shmtest.Iterations(t, 100_000)
	const producers, consumers = 3, 3
	seg := shmtest.Segment(t, 4<<20)
	q, err := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := queue.Create(seg, "res", queue.Options[[3]int64]{MaxSize: 8})
	ctx, cancel := context.WithTimeout(t.Context(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	var cons, prods []*process.Process
	for i := range consumers {
		p, err := hammerConsumer.Start(ctx, hammerArgs{Q: q, Results: res, ID: i, Batch: 5 * i}) // Get, and GetBatch of 5 and 10
		if err != nil {
			t.Fatal(err)
		}
		cons = append(cons, p)
	}
	for i := range producers {
		p, err := hammerProducer.Start(ctx, hammerArgs{Q: q, ID: i, N: n, Batch: 7 * i}) // Put, and PutBatch runs of 7 and 14
		if err != nil {
			t.Fatal(err)
		}
		prods = append(prods, p)
	}
	for _, p := range prods {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	q.Shutdown()
	var total [3]int64
	for range consumers {
		r, err := res.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range total {
			total[i] += r[i]
		}
	}
	for _, p := range cons {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	var wantSum int64
	for p := range int64(producers) {
		wantSum += p<<32*int64(n) + int64(n)*int64(n-1)/2
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
	if total[0] != int64(producers*n) || total[1] != wantSum || total[2] != 0 {
		t.Fatalf("got %d messages (want %d), sum %d (want %d), %d out of order", total[0], producers*n, total[1], wantSum, total[2])
	}
}

type deathArgs struct {
	Q   *queue.Queue[int]
	Ack *queue.Queue[int]
}

// deathProducer puts one message and then hangs until killed.
var deathProducer = process.Register("queue-death-producer", func(ctx context.Context, a deathArgs) error {
	if err := a.Q.Put(ctx, 1); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
})

// deathConsumer gets one message, acknowledges it, and hangs until killed.
var deathConsumer = process.Register("queue-death-consumer", func(ctx context.Context, a deathArgs) error {
	v, err := a.Q.Get(ctx)
	if err != nil {
		return err
	}
	if err := a.Ack.Put(ctx, v); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
})

func TestProducersDead(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		producersDead(t)
	}
}

func producersDead(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, _ := queue.Create(seg, "q", queue.Options[int]{})
	ctx := ctxT(t)
	p, err := deathProducer.Start(ctx, deathArgs{Q: q})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); v != 1 || err != nil { // the producer has joined and is alive
		t.Fatalf("Get = %d, %v", v, err)
	}
	p.Kill()
	p.Wait()
	start := time.Now()
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrPeerDead) {
		t.Fatalf("Get with every producer dead = %v, want ErrPeerDead", err)
	}
	t.Logf("dead producer noticed in %v", time.Since(start))
}

func TestConsumersDead(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		consumersDead(t)
	}
}

func consumersDead(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, _ := queue.Create(seg, "q", queue.Options[int]{MaxSize: 2})
	ack, _ := queue.Create(seg, "ack", queue.Options[int]{})
	ctx := ctxT(t)
	p, err := deathConsumer.Start(ctx, deathArgs{Q: q, Ack: ack})
	if err != nil {
		t.Fatal(err)
	}
	q.Put(ctx, 7)
	if v, err := ack.Get(ctx); v != 7 || err != nil {
		t.Fatalf("ack = %d, %v", v, err)
	}
	p.Kill()
	p.Wait()
	q.Put(ctx, 1)
	q.Put(ctx, 2)
	if err := q.Put(ctx, 3); !errors.Is(err, queue.ErrPeerDead) {
		t.Fatalf("Put on a full queue with every consumer dead = %v, want ErrPeerDead", err)
	}
}

func ExampleQueue() {
	q, err := queue.New(queue.Options[string]{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ctx := context.Background()
	q.Put(ctx, "hello")
	q.Shutdown() // for every process: Gets drain what is left, then ErrShutdown
	for {
		v, err := q.Get(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(v)
	}
	// Output:
	// hello
	// queue: shut down
}

// TestParkedGoroutinesDoNotPinThreads parks 200 Gets on an empty queue and
// checks that the process did not grow a thread per goroutine.
func TestParkedGoroutinesDoNotPinThreads(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	q, _ := queue.Create(seg, "q", queue.Options[int]{MaxSize: 256})
	ctx := ctxT(t)
	const n = 200
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // on a t.Fatal or t.Skip below, the getters leave the queue before its segment goes
	got := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := q.Get(ctx)
			if err == nil {
				got <- v
			}
		}()
	}
	for queue.GetSleepers(q) < n { // every getter past its spin, parked or parking
		if ctx.Err() != nil {
			t.Fatalf("only %d getters parked", queue.GetSleepers(q))
		}
		runtime.Gosched()
	}
	threads := threadCount(t)
	for i := range n {
		q.Put(ctx, i)
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d of %d Gets returned", len(got), n)
	}
	if threads > 50 {
		t.Fatalf("%d threads with %d parked Gets", threads, n)
	}
}

func threadCount(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	t.Skip("no Threads line")
	return 0
}

type streamArgs struct {
	Q     *queue.Queue[int64]
	Tag   int64
	N     int64 // messages to put; 0: until killed
	Batch int   // > 0: PutBatch of Batch values at a time
}

var streamProducer = process.Register("queue-stream-producer", func(ctx context.Context, a streamArgs) error {
	return putSeq(ctx, a.Q, a.Tag<<32, a.N, a.Batch)
})

// TestProducerKilledMidStream SIGKILLs a producer while it puts as fast as
// it can (now and then between claiming a slot and publishing it); the queue
// goes on: a second producer's messages all arrive, in order, the dead one's
// arrive at most once and in order, and Close still ends the consumer.
// The batch variant kills a producer putting runs of 16 with PutBatch
// (now and then inside a run).
func TestProducerKilledMidStream(t *testing.T) {
	t.Run("put", func(t *testing.T) { producerKilledMidStream(t, 0) })
	t.Run("batch", func(t *testing.T) { producerKilledMidStream(t, 16) })
}

func producerKilledMidStream(t *testing.T, batch int) {
	trials := shmtest.Iterations(t, 5)
	for trial := range trials {
		seg := shmtest.Segment(t, 1<<20)
		q, _ := queue.Create(seg, "q", queue.Options[int64]{MaxSize: 64})
		ctx := ctxT(t)
		a, err := streamProducer.Start(ctx, streamArgs{Q: q, Tag: 1, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		next := map[int64]int64{}
		check := func(v int64) {
			tag, i := v>>32, v&(1<<32-1)
			if i < next[tag] {
				t.Fatalf("trial %d: message %d of producer %d after %d", trial, i, tag, next[tag]-1)
			}
			next[tag] = i + 1
		}
		for next[1] < int64(500+trial*300) {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			check(v)
		}
		a.Kill()
		a.Wait()
		const nb = 1000
		b, err := streamProducer.Start(ctx, streamArgs{Q: q, Tag: 2, N: nb})
		if err != nil {
			t.Fatal(err)
		}
		for next[2] < nb {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get after the kill: %v (got %d of producer 2)", trial, err, next[2])
			}
			check(v)
		}
		if err := b.Wait(); err != nil {
			t.Fatal(err)
		}
		q.Shutdown()
		if v, err := q.Get(ctx); !errors.Is(err, queue.ErrShutdown) {
			t.Fatalf("trial %d: Get after Shutdown = %d, %v", trial, v, err)
		}
	}
}

// jsonCodec is a user codec; registered at init so that a worker process
// decoding a queue handle that names it finds it.
type jsonCodec[T any] struct{}

func (jsonCodec[T]) Size(*T) int { return -1 }
func (jsonCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}
func (jsonCodec[T]) Decode(src []byte, v *T) error { return json.Unmarshal(src, v) }
func (jsonCodec[T]) CodecName() string             { return "json" }

func init() { codec.Register[task](jsonCodec[task]{}) }

var doubler = process.Register("queue-json-doubler", func(ctx context.Context, a struct{ In, Out *queue.Queue[task] }) error {
	t, err := a.In.Get(ctx)
	if err != nil {
		return err
	}
	return a.Out.Put(ctx, task{t.A * 2, t.B * 2})
})

func TestUserCodecAcrossProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	o := queue.Options[task]{Codec: jsonCodec[task]{}}
	in, _ := queue.Create(seg, "in", o)
	out, _ := queue.Create(seg, "out", o)
	if _, err := queue.Open(seg, "in", queue.Options[task]{}); err == nil {
		t.Fatal("Open with the default codec of a json queue succeeded")
	}
	ctx := ctxT(t)
	p, err := doubler.Start(ctx, struct{ In, Out *queue.Queue[task] }{in, out})
	if err != nil {
		t.Fatal(err)
	}
	in.Put(ctx, task{3, 4})
	if v, err := out.Get(ctx); err != nil || v != (task{6, 8}) {
		t.Fatalf("doubled = %+v, %v", v, err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// All ranges over the values of a queue until it is shut down and drained.
func ExampleQueue_All() {
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		panic(err)
	}
	defer q.Close() // this process is done with q; not the end of it for others
	ctx := context.Background()
	for i := range 3 {
		q.Put(ctx, i*i)
	}
	q.Shutdown() // the end for every process: the loop ends when drained
	for v, err := range q.All(ctx) {
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	// Output:
	// 0
	// 1
	// 4
}

// PutBatch puts several values with one entry into the handle; a consumer
// gets each as soon as it is written.
func ExampleQueue_PutBatch() {
	q, err := queue.New(queue.Options[string]{MaxSize: 2})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ctx := context.Background()
	go func() {
		// Three values through a queue of two slots: PutBatch waits for
		// room as Put does.
		if n, err := q.PutBatch(ctx, []string{"a", "b", "c"}); err != nil || n != 3 {
			panic(fmt.Sprint(n, err))
		}
	}()
	for range 3 {
		v, err := q.Get(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	// Output:
	// a
	// b
	// c
}

// TestPutBatchStops: PutBatch on a shut-down queue puts nothing and says
// so; on a full queue it puts what fits before its context ends, and
// reports how many.
func TestPutBatchStops(t *testing.T) {
	q, err := queue.New(queue.Options[int]{MaxSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if n, err := q.PutBatch(ctx, []int{1, 2, 3}); n != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutBatch of 3 into 2 slots: %d, %v; want 2, DeadlineExceeded", n, err)
	}
	q.Shutdown()
	if n, err := q.PutBatch(context.Background(), []int{4}); n != 0 || !errors.Is(err, queue.ErrShutdown) {
		t.Fatalf("PutBatch after Shutdown: %d, %v; want 0, ErrShutdown", n, err)
	}
	for _, want := range []int{1, 2} {
		if v, ok, err := q.TryGet(); !ok || err != nil || v != want {
			t.Fatalf("TryGet = %d, %v, %v; want %d", v, ok, err, want)
		}
	}
}

// A Joinable counts tasks: a consumer marks each one done, and Join waits
// for all of them, Python's JoinableQueue.
func ExampleJoinable() {
	q, err := queue.NewJoinable(queue.Options[string]{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ctx := context.Background()
	q.Put(ctx, "wash")
	q.Put(ctx, "dry")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for task, err := range q.All(ctx) {
			if err != nil {
				panic(err)
			}
			fmt.Println(task)
			q.TaskDone()
		}
	}()
	if err := q.Join(ctx); err != nil {
		panic(err)
	}
	fmt.Println("all done:", q.Unfinished())
	q.Shutdown()
	<-done
	// Output:
	// wash
	// dry
	// all done: 0
}

// GetBatch takes every value queued, up to the room in vs, with one claim.
func ExampleQueue_GetBatch() {
	q, err := queue.New(queue.Options[int]{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ctx := context.Background()
	if _, err := q.PutBatch(ctx, []int{1, 2, 3, 4, 5}); err != nil {
		panic(err)
	}
	vs := make([]int, 3)
	for range 2 {
		n, err := q.GetBatch(ctx, vs)
		if err != nil {
			panic(err)
		}
		fmt.Println(vs[:n])
	}
	// Output:
	// [1 2 3]
	// [4 5]
}

// TestGetBatchJoinableAndShutdown: GetBatch counts each value it takes
// from a joinable queue as a task handed out (Unfinished until TaskDone),
// gets the last values after Shutdown, then ErrShutdown; a codec that
// sizes its messages late (json) takes the same path.
func TestGetBatchJoinableAndShutdown(t *testing.T) {
	ctx := ctxT(t)
	j, err := queue.NewJoinable(queue.Options[int]{MaxSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if n, err := j.PutBatch(ctx, []int{10, 11, 12, 13}); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	vs := make([]int, 3)
	if n, err := j.GetBatch(ctx, vs); n != 3 || err != nil || fmt.Sprint(vs) != "[10 11 12]" {
		t.Fatalf("GetBatch: %d %v %v", n, vs, err)
	}
	if u := j.Unfinished(); u != 4 {
		t.Fatalf("Unfinished %d after taking 3 of 4, want 4", u)
	}
	for range 3 {
		if err := j.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if u := j.Unfinished(); u != 1 {
		t.Fatalf("Unfinished %d after 3 TaskDone, want 1", u)
	}
	j.Shutdown()
	if n, err := j.GetBatch(ctx, vs); n != 1 || err != nil || vs[0] != 13 {
		t.Fatalf("GetBatch after Shutdown: %d %v %v", n, vs, err)
	}
	if n, err := j.GetBatch(ctx, vs); n != 0 || !errors.Is(err, queue.ErrShutdown) {
		t.Fatalf("GetBatch of a drained shut-down queue: %d, %v", n, err)
	}

	// In a segment of the caller's: no arena, so that the run path serves.
	q, err := queue.Create(shmtest.Segment(t, 1<<20), "json", queue.Options[task]{Codec: jsonCodec[task]{}, MaxSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	in := []task{{1, 2}, {3, 4}, {5, 6}}
	if n, err := q.PutBatch(ctx, in); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	out := make([]task, 4)
	if n, err := q.GetBatch(ctx, out); n != 3 || err != nil || fmt.Sprint(out[:3]) != fmt.Sprint(in) {
		t.Fatalf("json GetBatch: %d %v %v", n, out, err)
	}
}

// TestPutBatchMixedSizes: a PutBatch whose values go partly into ring
// slots (runs) and partly out of line (one at a time) keeps their order,
// and GetBatch of such a queue hands them over one per call.
func TestPutBatchMixedSizes(t *testing.T) {
	ctx := ctxT(t)
	q, err := queue.New(queue.Options[[]byte]{SlotSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	big := bytes.Repeat([]byte{7}, 1000)
	in := [][]byte{[]byte("a"), []byte("b"), big, []byte("c"), big, big, []byte("d")}
	if n, err := q.PutBatch(ctx, in); n != len(in) || err != nil {
		t.Fatalf("PutBatch: %d, %v", n, err)
	}
	vs := make([][]byte, 4)
	var got [][]byte
	for len(got) < len(in) {
		n, err := q.GetBatch(ctx, vs)
		if err != nil || n != 1 {
			t.Fatalf("GetBatch of a queue with out-of-line messages: %d, %v (want one)", n, err)
		}
		got = append(got, vs[0])
		vs[0] = nil
	}
	for i := range in {
		if !bytes.Equal(got[i], in[i]) {
			t.Fatalf("value %d: %d bytes, want %d", i, len(got[i]), len(in[i]))
		}
	}
}
