package pipe

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestReadyWhileRecvWaits: Ready never blocks, also while a receive of
// another goroutine waits on the same Conn. Before, Ready took the
// receive lock, which the waiting receive holds, and waited with it: for
// as long as the peer sent nothing.
func TestReadyWhileRecvWaits(t *testing.T) {
	a, b, err := New(Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recvd := make(chan error, 1)
	go func() {
		_, err := a.Recv(ctx)
		recvd <- err
	}()
	for a.recvMu.TryLock() { // until the receive holds it, waiting
		a.recvMu.Unlock()
		runtime.Gosched()
	}
	ready := make(chan bool, 1)
	go func() { ready <- a.Ready() }()
	select {
	case r := <-ready:
		if r {
			t.Fatal("Ready = true with nothing sent")
		}
	case <-time.After(5 * time.Second): // a bound, not a timing: Ready is a few loads
		t.Error("Ready blocked while a receive waited")
	}
	if err := b.Send(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := <-recvd; err != nil {
		t.Fatal(err)
	}
}
