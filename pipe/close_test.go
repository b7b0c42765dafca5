package pipe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/process"
)

// countTo sends 1..N on its end and closes it in a defer, as a Python
// worker's conn.close() would: the parent's range over its end then ends.
var countTo = process.Register("pipe-count-to", func(ctx context.Context, a struct {
	C *pipe.Conn[int]
	N int
}) error {
	defer a.C.Close()
	for i := 1; i <= a.N; i++ {
		if err := a.C.Send(ctx, i); err != nil {
			return err
		}
	}
	return nil
})

// The parent closes its copy of the end it handed to a worker (Python's
// child_conn.close() after start), which leaves the worker's end open,
// and ranges over its own end until the worker closes.
func TestAllAcrossProcesses(t *testing.T) {
	a, b, err := pipe.New(pipe.Options[int]{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := ctxT(t)
	const n = 2000
	p, err := countTo.Start(ctx, struct {
		C *pipe.Conn[int]
		N int
	}{b, n})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // this process's copy only
		t.Fatal(err)
	}
	sum, count := 0, 0
	for v, err := range a.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		sum += v
		count++
	}
	if count != n || sum != n*(n+1)/2 {
		t.Fatalf("received %d values summing to %d, want %d and %d", count, sum, n, n*(n+1)/2)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// Breaking out of All leaves the rest to the next receive; an error ends
// the loop after one (zero, err) step; Close is idempotent, says ErrClosed
// to later calls and EOF to the peer.
func TestAllBreakErrorAndClose(t *testing.T) {
	a, b, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := ctxT(t)
	for _, s := range []string{"a", "b", "c"} {
		a.Send(ctx, s)
	}
	for v, err := range b.All(ctx) {
		if v != "a" || err != nil {
			t.Fatalf("first step = %q, %v", v, err)
		}
		break
	}
	if v, err := b.Recv(ctx); v != "b" || err != nil {
		t.Fatalf("Recv after break = %q, %v; want b", v, err)
	}
	b.Recv(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	steps := 0
	for v, err := range b.All(cctx) {
		steps++
		if v != "" || !errors.Is(err, context.Canceled) {
			t.Fatalf("step on a cancelled ctx = %q, %v", v, err)
		}
	}
	if steps != 1 {
		t.Fatalf("%d steps, want 1", steps)
	}

	errs := make(chan error, 1)
	go func() {
		_, err := a.Recv(ctx) // parked until a is closed
		errs <- err
	}()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, pipe.ErrClosed) {
		t.Fatalf("Recv parked on a closed handle = %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := a.Send(ctx, "x"); !errors.Is(err, pipe.ErrClosed) {
		t.Fatalf("Send on a closed handle = %v, want ErrClosed", err)
	}
	if _, err := b.Recv(ctx); err != io.EOF {
		t.Fatalf("peer's Recv after Close = %v, want io.EOF", err)
	}
	if err := b.Send(ctx, "y"); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("peer's Send after Close = %v, want io.ErrClosedPipe", err)
	}
}

// All ranges over what the peer sends until it closes its end.
func ExampleConn_All() {
	parent, child, err := pipe.New(pipe.Options[string]{})
	if err != nil {
		panic(err)
	}
	defer parent.Close()
	ctx := context.Background()
	child.Send(ctx, "hello")
	child.Send(ctx, "world")
	child.Close() // the parent's range ends after what was sent
	for msg, err := range parent.All(ctx) {
		if err != nil {
			panic(err)
		}
		fmt.Println(msg)
	}
	// Output:
	// hello
	// world
}
