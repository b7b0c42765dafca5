package pipe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDuplex(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	a, b, err := pipe.Create(seg, "p", pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := a.Send(ctx, "ping"); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Recv(ctx); v != "ping" || err != nil {
		t.Fatalf("b.Recv = %q, %v", v, err)
	}
	b.Send(ctx, "pong")
	if ok, err := a.Poll(ctx); !ok || err != nil {
		t.Fatalf("Poll = %v, %v", ok, err)
	}
	if v, err := a.Recv(ctx); v != "pong" || err != nil {
		t.Fatalf("a.Recv = %q, %v", v, err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if ok, err := a.Poll(short); ok || err != nil {
		t.Fatalf("Poll on an empty pipe = %v, %v", ok, err)
	}
	// Close: the peer drains, then gets io.EOF; its Send gets ErrClosedPipe.
	a.Send(ctx, "last")
	a.Close()
	if v, err := b.Recv(ctx); v != "last" || err != nil {
		t.Fatalf("Recv after Close = %q, %v", v, err)
	}
	if _, err := b.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv on a closed pipe = %v, want io.EOF", err)
	}
	if err := b.Send(ctx, "x"); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Send to a closed peer = %v", err)
	}
	if err := a.Send(ctx, "x"); !errors.Is(err, pipe.ErrClosed) {
		t.Fatalf("Send on a closed end = %v", err)
	}
}

func TestReady(t *testing.T) {
	a, b, err := pipe.New(pipe.Options[[]byte]{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := ctxT(t)
	if a.Ready() || b.Ready() {
		t.Fatal("Ready on an empty pipe")
	}
	if err := b.SendBytes(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if !a.Ready() || b.Ready() {
		t.Fatalf("after a send: Ready %v at the receiver, %v at the sender", a.Ready(), b.Ready())
	}
	if p, err := a.Peek(ctx); err != nil || string(p) != "x" {
		t.Fatalf("Peek = %q, %v", p, err)
	}
	if !a.Ready() {
		t.Fatal("not Ready with a message peeked and not discarded")
	}
	a.Discard()
	if a.Ready() {
		t.Fatal("Ready after the only message was discarded")
	}
	b.Close()
	if !a.Ready() {
		t.Fatal("not Ready after the peer closed")
	}
	if _, err := a.Peek(ctx); err != io.EOF {
		t.Fatalf("Peek after the peer closed: %v, want io.EOF", err)
	}
}

func TestOneWayAndBytes(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, w, err := pipe.Create(seg, "p", pipe.Options[[]byte]{OneWay: true, Codec: codec.Bytes{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := r.SendBytes(ctx, []byte("x")); !errors.Is(err, pipe.ErrOneWay) {
		t.Fatalf("Send on the receiving end = %v", err)
	}
	w.SendBytes(ctx, []byte("zero-copy"))
	rec, err := r.Peek(ctx)
	if err != nil || string(rec) != "zero-copy" {
		t.Fatalf("Peek = %q, %v", rec, err)
	}
	again, _ := r.Peek(ctx)
	if &again[0] != &rec[0] {
		t.Fatal("second Peek before Release gave another record")
	}
	r.Discard()
	if err := w.SendBytes(ctx, make([]byte, 1<<20)); err == nil {
		t.Fatal("oversize SendBytes succeeded")
	}
	// Byte stream: io.Copy through the pipe.
	src := bytes.Repeat([]byte("0123456789"), 10_000)
	// The reader sees io.EOF inside w.Close, before it returns: the
	// segment must outlive the writer, which shmtest.Go's cleanup waits for.
	shmtest.Go(t, func() {
		w.Write(src)
		w.Close()
	})
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, src) {
		r.Close() // a writer still in Write gets io.ErrClosedPipe and returns
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestZeroAllocs(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	a, b, _ := pipe.Create(seg, "p", pipe.Options[int64]{})
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		a.Send(ctx, 5)
		if v, _ := b.Recv(ctx); v != 5 {
			panic(v)
		}
	})
	if n != 0 {
		t.Fatalf("Send+Recv of int64: %v allocs", n)
	}
}

type echoArgs struct{ C *pipe.Conn[string] }

// echo sends back what it receives with a "!" added,
// until io.EOF.
var echo = process.Register("pipe-echo", func(ctx context.Context, a echoArgs) error {
	for {
		v, err := a.C.Recv(ctx)
		if err == io.EOF {
			return a.C.Close()
		}
		if err != nil {
			return err
		}
		if err := a.C.Send(ctx, v+"!"); err != nil {
			return err
		}
	}
})

// hang receives once, answers, then waits to be killed.
var hang = process.Register("pipe-hang", func(ctx context.Context, a echoArgs) error {
	v, err := a.C.Recv(ctx)
	if err != nil {
		return err
	}
	a.C.Send(ctx, v)
	<-ctx.Done()
	return nil
})

func TestAcrossProcesses(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	a, b, _ := pipe.Create(seg, "p", pipe.Options[string]{})
	ctx := ctxT(t)
	p, err := echo.Start(ctx, echoArgs{C: b})
	if err != nil {
		t.Fatal(err)
	}
	for i := range shmtest.Iterations(t, 1000) {
		s := fmt.Sprint(i)
		if err := a.Send(ctx, s); err != nil {
			t.Fatal(err)
		}
		if v, err := a.Recv(ctx); v != s+"!" || err != nil {
			t.Fatalf("echo of %q = %q, %v", s, v, err)
		}
	}
	a.Close()
	if _, err := a.Recv(ctx); !errors.Is(err, pipe.ErrClosed) {
		t.Fatalf("Recv on own closed end = %v", err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestPeerDead(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		peerDead(t)
	}
}

func peerDead(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	a, b, _ := pipe.Create(seg, "p", pipe.Options[string]{})
	ctx := ctxT(t)
	p, err := hang.Start(ctx, echoArgs{C: b})
	if err != nil {
		t.Fatal(err)
	}
	a.Send(ctx, "hi")
	if v, err := a.Recv(ctx); v != "hi" || err != nil { // the child holds its end
		t.Fatalf("Recv = %q, %v", v, err)
	}
	p.Kill()
	p.Wait()
	if _, err := a.Recv(ctx); !errors.Is(err, pipe.ErrPeerDead) {
		t.Fatalf("Recv from a killed peer = %v, want ErrPeerDead", err)
	}
}

func ExampleNew() {
	parent, child, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	child.Send(ctx, "hello")
	child.Close()
	for {
		msg, err := parent.Recv(ctx)
		if err == io.EOF {
			break
		}
		fmt.Println(msg)
	}
	// Output: hello
}

// TestPeerDeadSender: a Send blocked on a full pipe whose receiver was
// killed returns ErrPeerDead.
func TestPeerDeadSender(t *testing.T) {
	for range shmtest.Iterations(t, 1) {
		peerDeadSender(t)
	}
}

func peerDeadSender(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	a, b, _ := pipe.Create(seg, "p", pipe.Options[string]{Capacity: 4096})
	ctx := ctxT(t)
	p, err := hang.Start(ctx, echoArgs{C: b})
	if err != nil {
		t.Fatal(err)
	}
	a.Send(ctx, "hi")
	if _, err := a.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait()
	msg := strings.Repeat("x", 500)
	for i := 0; ; i++ {
		err := a.Send(ctx, msg)
		if errors.Is(err, pipe.ErrPeerDead) {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("Send %d to a killed receiver = %v, want ErrPeerDead once full", i, err)
		}
	}
}
