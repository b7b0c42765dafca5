package pipe

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestAcceptFailureRefusesDialer: an Accept that took an offer and then
// failed to open the dialer's connection segment (here EMFILE, made by a
// hook) refuses the dialer, which returns ErrRefused. Nobody marked the
// offer, and the dialer, seeing a live and open listener at each poll,
// waited until its context ended: for ever with no deadline.
func TestAcceptFailureRefusesDialer(t *testing.T) {
	testHookAcceptOpen = func() error { return unix.EMFILE }
	defer func() { testHookAcceptOpen = nil }()
	name := shmtest.Name(t)
	l, err := Listen(name, Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := dialAsync(ctx, name)
	if c, err := l.Accept(ctx); !errors.Is(err, unix.EMFILE) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Accept whose open fails = %v, want EMFILE", err)
	}
	if err := <-done; !errors.Is(err, ErrRefused) {
		t.Fatalf("Dial whose offer the listener took and failed to accept = %v, want ErrRefused", err)
	}
	if left := leftovers(t, name+"."); len(left) != 0 {
		t.Fatalf("left in /dev/shm: %v", left)
	}
}
