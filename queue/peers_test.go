package queue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
)

// Tests of the promise that a process dying anywhere costs the others
// nothing: no false alarm while a peer is starting, no unit of a bound or
// of the unfinished count taken along by a kill, no message lost with a
// consumer killed inside Get, no Join that waits for a dead consumer.
//
// The kills are placed, not timed: a child that must die at a chosen point
// blocks there (hold) after telling the parent through a pipe, and the
// parent SIGKILLs it once told.

// hold tells the parent that this worker reached its kill point (a byte on
// the pipe passed as process.File(0)) and blocks until it is killed.
func hold() {
	process.File(0).Write([]byte{1})
	for {
		unix.Pause() // returns on any signal (the runtime's own included); SIGKILL ends it
	}
}

// killPoint is the parent's end of a hold: the worker started with it, and
// the pipe the worker reports on.
type killPoint struct {
	r, w *os.File
}

func newKillPoint(t *testing.T) killPoint {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return killPoint{r, w}
}

// startHeld starts f(a) with a kill point and waits until the worker has
// reached it (and holds there).
func startHeld[A any](t *testing.T, ctx context.Context, f *process.Func[A], a A) *process.Process {
	t.Helper()
	k := newKillPoint(t)
	p, err := f.Start(ctx, a, process.WithFiles(k.w))
	if err != nil {
		t.Fatal(err)
	}
	k.started()
	k.reached(t)
	return p
}

// killHeld starts f(a), waits until the worker holds at its kill point,
// and SIGKILLs it there.
func killHeld[A any](t *testing.T, ctx context.Context, f *process.Func[A], a A) {
	t.Helper()
	p := startHeld(t, ctx, f, a)
	p.Kill()
	p.Wait()
}

// started drops the parent's copy of the write end once the child has its
// own, so that a child that dies before reaching the point gives EOF.
func (k killPoint) started() { k.w.Close() }

// reached waits until the child is at its kill point.
func (k killPoint) reached(t *testing.T) {
	t.Helper()
	var b [1]byte
	if _, err := k.r.Read(b[:]); err != nil {
		t.Fatalf("the child never reached its kill point: %v", err)
	}
}

// gated is a message whose codec can stop a process at a chosen point:
// Block 1 stops the producer inside Append (its ring slot claimed, not yet
// published), Block 2 stops a worker consumer inside Decode (its slot
// claimed, the message not yet handed to it).
type gated struct {
	V     int64
	Block uint8
}

type gateCodec struct{}

func (gateCodec) Size(*gated) int { return 9 }
func (gateCodec) Append(dst []byte, v *gated) ([]byte, error) {
	if v.Block == 1 && process.IsWorker() {
		hold()
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.V))
	return append(dst, v.Block), nil
}
func (gateCodec) Decode(src []byte, v *gated) error {
	if len(src) != 9 {
		return fmt.Errorf("gated message of %d bytes", len(src))
	}
	v.V, v.Block = int64(binary.LittleEndian.Uint64(src)), src[8]
	if v.Block == 2 && process.IsWorker() {
		hold()
	}
	return nil
}
func (gateCodec) CodecName() string { return "queue-test-gate" }

func init() { codec.Register[gated](gateCodec{}) }

var gatedPut = process.Register("queue-gated-put", func(ctx context.Context, q *queue.Queue[gated]) error {
	return q.Put(ctx, gated{V: -1, Block: 1})
})

var gatedGet = process.Register("queue-gated-get", func(ctx context.Context, q *queue.Joinable[gated]) error {
	_, err := q.Get(ctx)
	return err
})

// getThenHold gets one task and holds before TaskDone.
var getThenHold = process.Register("queue-get-then-hold", func(ctx context.Context, q *queue.Joinable[int64]) error {
	if _, err := q.Get(ctx); err != nil {
		return err
	}
	hold()
	return nil
})

// startGate is an argument that holds the child inside the decoding of its
// arguments until the parent writes a byte on the pipe passed as
// process.File(0): a worker that has started but not yet attached to the
// queue that follows it in the arguments.
// It carries a field set to true: gob leaves out a field whose value is
// zero, GobEncoders included.
type startGate struct{ Armed bool }

func (startGate) GobEncode() ([]byte, error) { return []byte{1}, nil }
func (*startGate) GobDecode([]byte) error {
	var b [1]byte
	_, err := process.File(0).Read(b[:])
	return err
}

type gatedStartArgs struct {
	Gate startGate // decoded first (set Armed): the queue below is not attached until the gate opens
	Q    *queue.Queue[int64]
	V    int64
}

var putOne = process.Register("queue-put-one", func(ctx context.Context, a gatedStartArgs) error {
	return a.Q.Put(ctx, a.V)
})

// TestGetWaitsForStartingProducer: a producer that has put and exited, and
// another that has been started but has not attached yet (held in the
// decoding of its arguments). A Get must wait for the second, not report
// that every producer has exited: the child counts as a peer from the
// moment Start returns.
func TestGetWaitsForStartingProducer(t *testing.T) {
	q, err := queue.New(queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	w.Write([]byte{1}) // the first one's gate: open at once
	first, err := putOne.Start(ctx, gatedStartArgs{Gate: startGate{true}, Q: q, V: 1}, process.WithFiles(r))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); v != 1 || err != nil {
		t.Fatalf("Get = %d, %v", v, err)
	}
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	second, err := putOne.Start(ctx, gatedStartArgs{Gate: startGate{true}, Q: q, V: 2}, process.WithFiles(r))
	if err != nil {
		t.Fatal(err)
	}
	// Several of the Get's peer checks (every 50 ms) run while the second
	// producer is held before attaching.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	v, err := q.Get(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get while a started producer has not attached = %d, %v, want to wait (deadline exceeded)", v, err)
	}
	w.Write([]byte{1}) // open the gate
	if v, err := q.Get(ctx); v != 2 || err != nil {
		t.Fatalf("Get after the gate opened = %d, %v", v, err)
	}
	if err := second.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestGetProducerDiedBeforeAttaching: a child handed the queue that dies
// before it attaches is a dead peer: the Get waiting on it returns
// ErrPeerDead instead of waiting forever.
func TestGetProducerDiedBeforeAttaching(t *testing.T) {
	q, err := queue.New(queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := putOne.Start(ctx, gatedStartArgs{Gate: startGate{true}, Q: q, V: 1}, process.WithFiles(r))
	w.Close() // never opened: the child is killed in its gate
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait()
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrPeerDead) {
		t.Fatalf("Get with its only producer dead before attaching = %v, want ErrPeerDead", err)
	}
}

var fanOutProducer = process.Register("queue-fan-out", func(ctx context.Context, q *queue.Queue[int64]) error {
	return q.Put(ctx, int64(os.Getpid()))
})

// TestFanOut is the seeds' queue-count shape: five producers started, each
// puts one value and exits, the parent gets five. Exact every time: the
// first producer's exit must never look like "every producer has exited"
// while the others are still starting (under load they start late).
func TestFanOut(t *testing.T) {
	for trial := range shmtest.Iterations(t, 20) {
		q, err := queue.New(queue.Options[int64]{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		want := map[int64]bool{}
		var ps []*process.Process
		for range 5 {
			p, err := fanOutProducer.Start(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
			want[int64(p.Pid())] = true
		}
		for i := range ps {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get %d of 5: %v", trial, i+1, err)
			}
			if !want[v] {
				t.Fatalf("trial %d: got %d, not one of %v", trial, v, want)
			}
			delete(want, v)
		}
		for _, p := range ps {
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		q.Close()
	}
}

// TestBoundedProducerKilledMidPut SIGKILLs a producer of a queue of
// MaxSize 1 while it holds the queue's only unit (its slot claimed, its
// message half written), 20 times: the bound comes back each time, MaxSize
// messages fit afterwards, and no more.
func TestBoundedProducerKilledMidPut(t *testing.T) {
	q, err := queue.New(queue.Options[gated]{MaxSize: 1, Codec: gateCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 20) {
		killHeld(t, ctx, gatedPut, q)
		if err := q.Put(ctx, gated{V: int64(trial)}); err != nil {
			t.Fatalf("trial %d: Put after the kill: %v", trial, err)
		}
		if ok, err := q.TryPut(gated{V: -2}); ok || err != nil {
			t.Fatalf("trial %d: a second message fit a queue of MaxSize 1 (%v, %v)", trial, ok, err)
		}
		if v, err := q.Get(ctx); err != nil || v.V != int64(trial) {
			t.Fatalf("trial %d: Get = %+v, %v", trial, v, err)
		}
	}
	if err := queue.Sane(q); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerKilledMidGet SIGKILLs a consumer inside Get, after it claimed
// a message and before the message was handed to it, 20 times: the message
// goes to another consumer (0 lost, 0 duplicated).
func TestConsumerKilledMidGet(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[gated]{MaxSize: 8, Codec: gateCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 20) {
		base := int64(trial) * 10
		if err := q.Put(ctx, gated{V: base, Block: 2}); err != nil { // the one the child stops inside
			t.Fatal(err)
		}
		for i := int64(1); i <= 3; i++ {
			q.Put(ctx, gated{V: base + i})
		}
		killHeld(t, ctx, gatedGet, q)
		got := map[int64]int{}
		for range 4 {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get after the kill: %v (got %v)", trial, err, got)
			}
			got[v.V]++
			q.TaskDone()
		}
		for i := base; i <= base+3; i++ {
			if got[i] != 1 {
				t.Fatalf("trial %d: message %d got %d times (%v)", trial, i, got[i], got)
			}
		}
		if v, ok, err := q.TryGet(); ok || err != nil {
			t.Fatalf("trial %d: a fifth message %+v, %v", trial, v, err)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("trial %d: Join = %v", trial, err)
		}
	}
}

// TestJoinConsumerDiedHoldingTask SIGKILLs a consumer between its Get and
// its TaskDone while another consumer (this process) lives, 20 times: Join
// returns an error matching ErrPeerDead that counts the lost task, instead
// of waiting for it forever, and the next Join starts afresh.
func TestJoinConsumerDiedHoldingTask(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[int64]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 20) {
		q.Put(ctx, 1)
		p := startHeld(t, ctx, getThenHold, q) // it got the task and holds it
		q.Put(ctx, 2)
		if v, err := q.Get(ctx); v != 2 || err != nil {
			t.Fatalf("trial %d: Get = %d, %v", trial, v, err)
		}
		q.TaskDone()
		p.Kill()
		p.Wait()
		start := time.Now()
		err = q.Join(ctx)
		if !errors.Is(err, queue.ErrPeerDead) {
			t.Fatalf("trial %d: Join with a dead consumer's task = %v, want ErrPeerDead", trial, err)
		}
		if trial == 0 {
			t.Logf("Join returned in %v: %v", time.Since(start), err)
		}
		if n := q.Unfinished(); n != 0 {
			t.Fatalf("trial %d: %d unfinished after the count-out", trial, n)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("trial %d: second Join = %v", trial, err)
		}
	}
}

var gatedJoinPut = process.Register("queue-gated-joinable-put", func(ctx context.Context, q *queue.Joinable[gated]) error {
	return q.Put(ctx, gated{V: -1, Block: 1})
})

// TestJoinProducerKilledMidPut SIGKILLs a producer of a joinable queue with
// its slot claimed and its message half written: the task it never put is
// not counted, and Join returns once the tasks that were put are done.
func TestJoinProducerKilledMidPut(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[gated]{Codec: gateCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 5) {
		killHeld(t, ctx, gatedJoinPut, q)
		q.Put(ctx, gated{V: 5})
		if v, err := q.Get(ctx); err != nil || v.V != 5 {
			t.Fatalf("trial %d: Get = %+v, %v", trial, v, err)
		}
		q.TaskDone()
		if err := q.Join(ctx); err != nil {
			t.Fatalf("trial %d: Join = %v", trial, err)
		}
	}
}

var gatedJoinPutBatch = process.Register("queue-gated-joinable-put-batch", func(ctx context.Context, q *queue.Joinable[gated]) error {
	_, err := q.PutBatch(ctx, []gated{{V: 1}, {V: 2}, {V: -1, Block: 1}, {V: -2}})
	return err
})

// TestJoinProducerKilledMidPutBatch SIGKILLs a producer inside a PutBatch
// run, its four slots claimed with one CAS, two of them filled and
// published, the third half written: the two it published are delivered,
// the two it never wrote are skipped and not counted as tasks, and Join
// returns once the delivered tasks are done.
func TestJoinProducerKilledMidPutBatch(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[gated]{Codec: gateCodec{}, MaxMessage: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 5) {
		killHeld(t, ctx, gatedJoinPutBatch, q)
		q.Put(ctx, gated{V: 5})
		var got []int64
		for range 3 {
			v, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("trial %d: Get after %v: %v", trial, got, err)
			}
			got = append(got, v.V)
			q.TaskDone()
		}
		if fmt.Sprint(got) != "[1 2 5]" {
			t.Fatalf("trial %d: got %v, want [1 2 5] (the run's filled prefix, then the later Put)", trial, got)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("trial %d: Join = %v", trial, err)
		}
		if err := queue.Sane(q.Queue); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
	}
}

var gatedGetBatch = process.Register("queue-gated-get-batch", func(ctx context.Context, q *queue.Joinable[gated]) error {
	_, err := q.GetBatch(ctx, make([]gated, 8))
	return err
})

// TestConsumerKilledMidGetBatch SIGKILLs a consumer inside GetBatch, its
// run of four messages claimed with one CAS and the first being decoded:
// the next consumer gets all four, once each, in order, and Join returns
// when they are done.
func TestConsumerKilledMidGetBatch(t *testing.T) {
	q, err := queue.NewJoinable(queue.Options[gated]{MaxSize: 8, Codec: gateCodec{}, MaxMessage: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := ctxT(t)
	for trial := range shmtest.Iterations(t, 5) {
		base := int64(trial) * 10
		if _, err := q.PutBatch(ctx, []gated{{V: base, Block: 2}, {V: base + 1}, {V: base + 2}, {V: base + 3}}); err != nil {
			t.Fatal(err)
		}
		killHeld(t, ctx, gatedGetBatch, q)
		vs := make([]gated, 8)
		var got []int64
		for len(got) < 4 {
			n, err := q.GetBatch(ctx, vs)
			if err != nil {
				t.Fatalf("trial %d: GetBatch after the kill: %v (got %v)", trial, err, got)
			}
			for _, v := range vs[:n] {
				got = append(got, v.V-base)
				q.TaskDone()
			}
		}
		if fmt.Sprint(got) != "[0 1 2 3]" {
			t.Fatalf("trial %d: got %v (less %d), want [0 1 2 3]", trial, got, base)
		}
		if v, ok, err := q.TryGet(); ok || err != nil {
			t.Fatalf("trial %d: a fifth message %+v, %v", trial, v, err)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("trial %d: Join = %v", trial, err)
		}
	}
}
