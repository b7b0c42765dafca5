package bridge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

// Three "hosts" on one machine: each is a shared-memory directory of its
// own (shm.WithDir on a temporary directory) holding its named queue, and
// the processes that use it. Host A's producers put into A's queue and
// A's Send publishes it; hosts B and C each Receive into their own queue,
// where a consumer process gets the messages and reports them to the test
// over a pipe. Nothing but NATS connects the hosts.

const (
	hostQueue    = "q"
	hostMaxSize  = 4096
	hostWindow   = 256
	hostBatch    = 256
	hostStream   = "HOSTS"
	hostProducer = 3
)

type producerArgs struct {
	Q           *queue.Queue[uint64]
	From, Count uint64
}

var produce = process.Register("bridge-produce", func(ctx context.Context, a producerArgs) error {
	defer a.Q.Close()
	for v := a.From; v < a.From+a.Count; v++ {
		if err := a.Q.Put(ctx, v); err != nil {
			return err
		}
	}
	return nil
})

type bridgeArgs struct {
	Q    *queue.Queue[uint64]
	URLs string
	// HoldAt and HoldAfter, when set, stop the bridge at the HoldAfter-th
	// pass through its test point HoldAt, after telling the test through
	// process.File(0), to be killed there.
	HoldAt    string
	HoldAfter int
	AckWait   time.Duration
}

func (a bridgeArgs) options() bridge.Options[uint64] {
	return bridge.Options[uint64]{Stream: hostStream, Window: hostWindow, Batch: hostBatch, AckWait: a.AckWait}
}

// holdAt installs the hook that holds at a's point.
func (a bridgeArgs) holdAt() {
	if a.HoldAt == "" {
		return
	}
	var mu sync.Mutex
	n := 0
	bridge.SetHook(func(point string) {
		if point != a.HoldAt {
			return
		}
		mu.Lock()
		n++
		reached := n == a.HoldAfter
		mu.Unlock()
		if reached {
			process.File(0).Write([]byte{1})
			for {
				unix.Pause() // SIGKILL ends it
			}
		}
	})
}

func (a bridgeArgs) connect() (jetstream.JetStream, func(), error) {
	nc, err := nats.Connect(a.URLs, nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

var send = process.Register("bridge-send", func(ctx context.Context, a bridgeArgs) error {
	defer a.Q.Close()
	a.holdAt()
	js, closeNC, err := a.connect()
	if err != nil {
		return err
	}
	defer closeNC()
	return bridge.Send(ctx, js, a.Q, a.options())
})

// receive runs until the test closes its end of process.File(1).
var receive = process.Register("bridge-receive", func(ctx context.Context, a bridgeArgs) error {
	defer a.Q.Close()
	a.holdAt()
	js, closeNC, err := a.connect()
	if err != nil {
		return err
	}
	defer closeNC()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, process.File(1))
		cancel()
	}()
	return bridge.Receive(ctx, js, a.Q, a.options())
})

// consume gets until its queue is shut down and drained, writing each
// value to process.File(0) (flushed whenever the queue is empty).
var consume = process.Register("bridge-consume", func(ctx context.Context, q *queue.Queue[uint64]) error {
	defer q.Close()
	w := bufio.NewWriterSize(process.File(0), 64<<10)
	var b [8]byte
	for {
		v, ok, err := q.TryGet()
		if !ok && err == nil {
			if err := w.Flush(); err != nil {
				return err
			}
			v, err = q.Get(ctx)
		}
		if errors.Is(err, queue.ErrShutdown) {
			return w.Flush()
		}
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(b[:], v)
		w.Write(b[:])
	}
})

// host is one host's shared-memory directory and queue.
type host struct {
	dir string
	q   *queue.Queue[uint64]
}

func newHost(t *testing.T, name string) *host {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	size := int64(hostMaxSize)*128 + bridge.JournalSize(hostWindow, 8) + 1<<20
	seg, err := shm.Create("shmkit-"+name, size, shm.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Unlink(); seg.Close() })
	q, err := queue.Create(seg, hostQueue, queue.Options[uint64]{MaxSize: hostMaxSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return &host{dir: dir, q: q}
}

// tally counts how often each of n values arrived.
type tally struct {
	mu     sync.Mutex
	seen   []uint8
	unique int
	total  int
	all    chan struct{} // closed when every value has arrived once
}

func newTally(n int) *tally { return &tally{seen: make([]uint8, n), all: make(chan struct{})} }

// read counts the values a consumer writes to r until EOF.
func (c *tally) read(t *testing.T, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var b [8]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return
		}
		v := binary.LittleEndian.Uint64(b[:])
		c.mu.Lock()
		if v >= uint64(len(c.seen)) {
			c.mu.Unlock()
			t.Errorf("value %d out of range", v)
			continue
		}
		c.total++
		if c.seen[v] < 255 {
			c.seen[v]++
		}
		if c.seen[v] == 1 {
			c.unique++
			if c.unique == len(c.seen) {
				close(c.all)
			}
		}
		c.mu.Unlock()
	}
}

// hostRun is a run of the three hosts.
type hostRun struct {
	t       *testing.T
	ctx     context.Context
	urls    string
	js      jetstream.JetStream
	a, b, c *host
	n       int
	tally   *tally
	stops   []*os.File // write ends the receivers watch
	recv    []*process.Process
	cons    []*process.Process
	prod    []*process.Process
	readers sync.WaitGroup
	ackWait time.Duration    // the receivers' AckWait (0: the default)
	snd     *process.Process // host A's Send, when started before finish
}

// startHosts makes the stream and the hosts and starts every process but
// host A's Send: producers on A, a Receive and a consumer on B and C.
func startHosts(t *testing.T, ctx context.Context, urls string, n int, ackWait time.Duration) *hostRun {
	r := &hostRun{t: t, ctx: ctx, urls: urls, n: n, tally: newTally(n), ackWait: ackWait}
	r.js = connect(t, urls)
	makeStream(t, ctx, r.js, hostStream, 1)
	r.a, r.b, r.c = newHost(t, "a"), newHost(t, "b"), newHost(t, "c")
	for _, h := range []*host{r.b, r.c} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := consume.Start(ctx, h.q, process.WithFiles(pw))
		pw.Close()
		if err != nil {
			t.Fatal(err)
		}
		r.cons = append(r.cons, p)
		r.readers.Add(1)
		go func() { defer r.readers.Done(); defer pr.Close(); r.tally.read(t, pr) }()
		p, stop := r.startReceive(h, "", 0)
		r.recv = append(r.recv, p)
		r.stops = append(r.stops, stop)
	}
	per := uint64(n / hostProducer)
	for i := range uint64(hostProducer) {
		count := per
		if i == hostProducer-1 {
			count = uint64(n) - per*i
		}
		p, err := produce.Start(ctx, producerArgs{Q: r.a.q, From: i * per, Count: count})
		if err != nil {
			t.Fatal(err)
		}
		r.prod = append(r.prod, p)
	}
	return r
}

// startReceive starts host h's Receive, held at its hold-th pass
// through point if point is set (and then returns once it is there). It
// runs until stop is closed.
func (r *hostRun) startReceive(h *host, point string, hold int) (p *process.Process, stop *os.File) {
	t := r.t
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	hr, hw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Close()
	p, err = receive.Start(r.ctx, bridgeArgs{Q: h.q, URLs: r.urls, HoldAt: point, HoldAfter: hold, AckWait: r.ackWait}, process.WithFiles(hw, sr))
	sr.Close()
	hw.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	if point != "" {
		var b [1]byte
		if _, err := hr.Read(b[:]); err != nil {
			t.Fatalf("Receive never reached %s #%d: %v (exit: %v)", point, hold, err, p.Wait())
		}
	}
	return p, sw
}

// sendHeld starts host A's Send held at its hold-th pass through point
// and waits until it is there.
func (r *hostRun) sendHeld(point string, hold int) *process.Process {
	t := r.t
	hr, hw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Close()
	p, err := send.Start(r.ctx, bridgeArgs{Q: r.a.q, URLs: r.urls, HoldAt: point, HoldAfter: hold}, process.WithFiles(hw))
	hw.Close()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := hr.Read(b[:]); err != nil {
		t.Fatalf("Send never reached %s #%d: %v (exit: %v)", point, hold, err, p.Wait())
	}
	return p
}

// finish runs a Send to the end (host A's queue shut down once the
// producers are done), waits until every value has arrived, stops the
// receivers and consumers, and returns the number of duplicates: values
// got more than once, and messages left in the stream.
func (r *hostRun) finish() int {
	t := r.t
	snd := r.snd
	if snd == nil {
		var err error
		if snd, err = send.Start(r.ctx, bridgeArgs{Q: r.a.q, URLs: r.urls}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range r.prod {
		if err := p.Wait(); err != nil {
			t.Fatalf("producer: %v", err)
		}
	}
	r.a.q.Shutdown()
	if err := snd.Wait(); err != nil {
		t.Fatalf("Send: %v", err)
	}
	select {
	case <-r.tally.all:
	case <-r.ctx.Done():
		r.tally.mu.Lock()
		t.Fatalf("%d of %d values arrived", r.tally.unique, r.n)
	}
	for i, p := range r.recv {
		r.stops[i].Close()
		if err := p.Wait(); err != nil {
			t.Errorf("Receive: %v", err)
		}
	}
	r.b.q.Shutdown()
	r.c.q.Shutdown()
	for _, p := range r.cons {
		if err := p.Wait(); err != nil {
			t.Errorf("consumer: %v", err)
		}
	}
	r.readers.Wait()
	str, err := r.js.Stream(r.ctx, hostStream)
	if err != nil {
		t.Fatal(err)
	}
	// Messages never delivered (a copy the ids did not catch, still
	// waiting): the consumer's pending count. (The stream's own count may
	// still hold messages whose acknowledgements the server has not
	// processed yet.)
	c, err := str.Consumer(r.ctx, "shmkit-bridge")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.tally.mu.Lock()
	defer r.tally.mu.Unlock()
	var sum, want uint64
	for v, c := range r.tally.seen {
		sum += uint64(c) * mix(uint64(v))
		want += mix(uint64(v))
	}
	dups := r.tally.total - r.n
	t.Logf("%d values, %d got, %d duplicates got, %d never delivered; checksum %x (want %x plus duplicates)", r.n, r.tally.total, dups, info.NumPending, sum, want)
	if dups == 0 && sum != want {
		t.Errorf("checksum %x, want %x", sum, want)
	}
	return dups + int(info.NumPending)
}

// mix is a 64-bit finaliser (splitmix64's): the checksum of a set of
// values is the sum of their mixes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hostCount is the messages of a hosts test: 1,000,000 in a soak run.
func hostCount(t *testing.T) int {
	if shmtest.Soak() {
		return 1_000_000
	}
	return shmtest.Iterations(t, 60_000)
}

// TestHosts: three producers on host A, consumers on hosts B and C, every
// message got exactly once (checksum and per-value count).
func TestHosts(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	r := startHosts(t, ctx, s.ClientURL(), hostCount(t), 0)
	if dups := r.finish(); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}

// TestSendKilled kills host A's Send ten times mid-stream, at each of its
// points in turn, restarting it after each kill: nothing is lost, and the
// only duplicates are the ones the guarantee allows, one per kill between
// the journal's copy and the queue's release of the slot ("committed").
// A kill after the publish ("published", "acked") makes the next Send
// publish the message again under the same id, which the stream drops; a
// kill before the journal's copy ("claimed") leaves the message in the
// queue. A kill held at "published" or "acked" stops the publishing
// goroutine only: Send's getter goes on taking messages from the queue
// into the journal until its window is full, so the kill may find the
// getter inside that same window, at most one message (one getter) per
// kill: such a kill may add one duplicate.
func TestSendKilled(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	n := hostCount(t)
	r := startHosts(t, ctx, s.ClientURL(), n, 0)
	points := []string{"claimed", "committed", "published", "acked"}
	committed, published := 0, 0
	for k := range 10 {
		point := points[k%len(points)]
		p := r.sendHeld(point, 1+(n/40)*(k%3+1)/3)
		p.Kill()
		p.Wait()
		switch point {
		case "committed":
			committed++
		case "published", "acked":
			published++
		}
	}
	dups := r.finish()
	if dups < committed || dups > committed+published {
		t.Errorf("%d duplicates, want %d (one per kill at \"committed\") to %d (and at most one per kill at \"published\" or \"acked\")",
			dups, committed, committed+published)
	}
}

// TestReceiveKilled kills host B's Receive five times, each time after a
// local Put and before its acknowledgement ("put"), and restarts it: no
// message is lost; the message in hand is delivered again after AckWait
// (to B or C) and got twice, as may those whose acknowledgements the
// killed process had not yet written to its socket: at least one
// duplicate per kill, at most one per message pulled ahead (Batch).
func TestReceiveKilled(t *testing.T) {
	ctx := ctxT(t)
	s := startServer(t)
	n := hostCount(t)
	r := startHosts(t, ctx, s.ClientURL(), n, 3*time.Second)
	var err error
	if r.snd, err = send.Start(ctx, bridgeArgs{Q: r.a.q, URLs: r.urls}); err != nil {
		t.Fatal(err)
	}
	// B's first Receive, killed wherever it is (one more kill, within the
	// same bounds), makes way for held ones.
	r.recv[0].Kill()
	r.recv[0].Wait()
	const kills = 5
	for k := range kills {
		p, _ := r.startReceive(r.b, "put", 1+(n/20)*(k%3+1)/3)
		p.Kill()
		p.Wait()
	}
	r.recv[0], r.stops[0] = r.startReceive(r.b, "", 0)
	dups := r.finish()
	if dups < kills || dups > (kills+1)*hostBatch {
		t.Errorf("%d duplicates, want %d to %d", dups, kills, (kills+1)*hostBatch)
	}
}
