package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestKeepBehindWaitsForARun: the sole consumer of a ring bound to 4096
// messages, taking one at a time with 8 to 63 queued, starts to wait for
// a run at its ringx.BehindEvery-th take (by Get and by ClaimGet alike),
// and not before; a Try call of another goroutine on the handle gives up
// behind that wait at once; a consumer with 64 or more queued never waits.
func TestKeepBehindWaitsForARun(t *testing.T) {
	skipNoSole(t)
	seg := shmtest.Segment(t, 1<<20)
	r, err := NewMPMC(seg, "r", 4096, 8, WithProducers(8))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	put := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := r.Put(ctx, make([]byte, 8)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waits := 0
	var tryErr error
	tryBehind := make(chan struct{})
	behindWaitHook = func() {
		waits++
		// Another goroutine's Try call while this one waits for a run:
		// it must give up at once, not wait for the lock.
		go func() {
			defer close(tryBehind)
			_, ok, err := r.TryGet(make([]byte, 8))
			if ok {
				tryErr = errTookBehind
			} else if err != nil {
				tryErr = err
			}
		}()
		select {
		case <-tryBehind:
		case <-time.After(10 * time.Second):
			t.Error("a TryGet behind keepBehind's wait did not give up")
		}
	}
	defer func() { behindWaitHook = nil }()

	buf := make([]byte, 8)
	takes := 0
	take := func(viaClaim bool) {
		t.Helper()
		takes++
		if viaClaim {
			pos, _, ok, err := (*mpmcX)(r).ClaimGet()
			if !ok || err != nil {
				t.Fatalf("take %d: ClaimGet ok %v, err %v", takes, ok, err)
			}
			(*mpmcX)(r).ReleaseGet(pos, func() {})
			return
		}
		if _, err := r.Get(ctx, buf); err != nil {
			t.Fatalf("take %d: %v", takes, err)
		}
	}
	put(100)
	for takes < ringx.BehindEvery-1 {
		take(takes%2 == 1)
	}
	if waits != 0 {
		t.Fatalf("%d waits in the first %d takes", waits, takes)
	}
	// The count starts once the handle is the sole claimer (its first
	// take or so): the wait comes within the next few takes, with 30 or
	// more of the 100 still queued.
	for waits == 0 && takes < 70 {
		take(takes%2 == 1)
	}
	if !r.deqSole.own {
		t.Skip("the consumer did not become the sole claimer")
	}
	if waits != 1 || tryErr != nil {
		t.Fatalf("after %d takes of 100: %d waits, Try call: %v", takes, waits, tryErr)
	}
	put(1000) // 64 or more queued at every look from here on
	for end := takes + 6*ringx.BehindEvery; takes < end; {
		take(takes%2 == 1)
	}
	if waits != 1 {
		t.Fatalf("%d waits with 64 or more queued at each look", waits)
	}
}

var errTookBehind = errors.New("a TryGet took a message while another Get held the handle")
