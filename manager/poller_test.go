package manager_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
)

// The server serves busy clients from one goroutine in turn; a request
// that may take long goes back to a goroutine of its own. These tests run
// the server in the test's process (New), so that a registered method can
// block on the test's channels, and the clients in worker processes,
// through pipes.

type gate struct{ calls int }

var (
	gateStarted = make(chan struct{}, 1)
	gateRelease chan struct{} // set by the test before a worker calls wait
	gateType    = manager.RegisterType("test.gate", func() *gate { return &gate{} })
	gateWait    = manager.RegisterMethod(gateType, "wait", func(g *gate, _ int) (int, error) {
		gateStarted <- struct{}{}
		<-gateRelease
		g.calls++
		return g.calls, nil
	})
)

type gateArgs struct {
	O       *manager.Object[gate]
	D       *manager.Dict[int, int]
	Base, N int
}

// gateCaller makes quick calls, so that the server's poller serves its
// pipe, then calls the method that blocks.
var gateCaller = process.Register("test.gatecaller", func(ctx context.Context, a gateArgs) error {
	for i := range 10 {
		if err := a.D.Set(ctx, a.Base+i, i); err != nil {
			return err
		}
	}
	_, err := gateWait.Call(ctx, a.O, 0)
	return err
})

// bystander sets and reads back N keys from Base.
var bystander = process.Register("test.bystander", func(ctx context.Context, a gateArgs) error {
	for i := range a.N {
		if err := a.D.Set(ctx, a.Base+i, i); err != nil {
			return err
		}
		if v, ok, err := a.D.Get(ctx, a.Base+i); err != nil || !ok || v != i {
			return fmt.Errorf("key %d: %d, %v, %v", a.Base+i, v, ok, err)
		}
	}
	return nil
})

// TestSlowMethodStallsNobody: while a registered method blocks in the
// server, other clients' calls go on and complete; the method's call
// returns once it is released.
func TestSlowMethodStallsNobody(t *testing.T) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	m := must[*manager.Manager](t)(manager.New())
	defer m.Shutdown()
	gateRelease = make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(gateRelease)
		}
	}()
	o := must[*manager.Object[gate]](t)(gateType.New(ctx, m))
	d := must[*manager.Dict[int, int]](t)(manager.NewDict[int, int](ctx, m))
	const bystanders = 2
	n := shmtest.Iterations(t, 2000)
	var bs []*process.Process
	for i := range bystanders {
		bs = append(bs, must[*process.Process](t)(bystander.Start(ctx, gateArgs{D: d, Base: (i + 1) * n, N: n})))
	}
	caller := must[*process.Process](t)(gateCaller.Start(ctx, gateArgs{O: o, D: d}))
	select {
	case <-gateStarted:
	case <-ctx.Done():
		t.Fatal("the method never started")
	}
	// The method blocks until the bystanders are done: a server that
	// waited for it would never let them finish.
	for _, p := range bs {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := d.Len(ctx); err != nil || l != 10+bystanders*n {
		t.Fatalf("Len = %d, %v; want %d", l, err, 10+bystanders*n)
	}
	close(gateRelease)
	released = true
	if err := caller.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := must[int](t)(gateWait.Call(ctx, o, 0)); got != 2 {
		t.Fatalf("second call returned %d, want 2", got)
	}
	// That call's notice too: left in gateStarted, the next run's
	// (go test -count) would take it for its own method's start, and its
	// last call would block on a full gateStarted, in the method, for ever.
	<-gateStarted
}
