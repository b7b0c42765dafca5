package ringbuf

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// behindRing makes an MPMC ring of 4096 slots of 8 bytes (a bound a
// consumer keeps its distance in) holding n messages.
func behindRing(t *testing.T, n int) (*shm.Segment, *MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<20)
	r, err := NewMPMC(seg, "r", 4096, 8, WithProducers(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	behindPut(t, r, n)
	return seg, r
}

func behindPut(t *testing.T, r *MPMC, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := r.Put(context.Background(), make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
}

// behindTake takes one message through GetFunc (Get) or, for viaClaim,
// through the queue's ClaimGet and ReleaseGet, and reports when it
// returned.
func behindTake(t *testing.T, r *MPMC, viaClaim bool) time.Time {
	t.Helper()
	if viaClaim {
		pos, _, ok, err := (*mpmcX)(r).ClaimGet()
		if !ok || err != nil {
			t.Fatalf("ClaimGet: ok %v, err %v", ok, err)
		}
		(*mpmcX)(r).ReleaseGet(pos, func() {})
	} else if _, err := r.Get(context.Background(), make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// TestKeepBehindWaitsForARun: the sole consumer of a ring bound to 4096
// messages, taking one at a time with 8 to 63 queued, waits for a run
// (for the window: none comes) once it has counted ringx.BehindEvery
// takes, by Get and by ClaimGet alike, and not before; another
// goroutine's Try call on the handle gives up behind that wait at once,
// and the handle's lock no longer says its holder waits afterwards; with
// 64 or more queued at each look it never waits.
func TestKeepBehindWaitsForARun(t *testing.T) {
	skipNoSole(t)
	for _, waitVia := range []string{"Get", "ClaimGet"} {
		t.Run(waitVia, func(t *testing.T) {
			_, r := behindRing(t, 100)
			// Every take by one way, but the first, a Get, which
			// attaches the handle as a consumer.
			viaClaim := func(take int) bool { return waitVia == "ClaimGet" && take > 1 }
			waits := 0
			var hookEnd time.Time
			tries := make(chan error, 1)
			behindWaitHook = func() {
				if waits++; waits > 1 {
					return // reported below
				}
				defer func() { hookEnd = time.Now() }()
				// Another goroutine's Try call while this one waits for
				// a run: it must give up at once, not wait for the lock.
				go func() {
					_, ok, err := r.TryGet(make([]byte, 8))
					if ok {
						err = errTookBehind
					}
					tries <- err
				}()
				select {
				case err := <-tries:
					tries <- err
				case <-time.After(10 * time.Second):
					t.Error("a TryGet behind keepBehind's wait did not give up")
				}
			}
			t.Cleanup(func() { behindWaitHook = nil })

			takes := 0
			for takes < ringx.BehindEvery-1 {
				takes++
				behindTake(t, r, viaClaim(takes))
			}
			if waits != 0 {
				t.Fatalf("%d waits in the first %d takes", waits, takes)
			}
			// The count starts once the handle is the sole claimer (its
			// first take or so): the wait comes within the next few
			// takes, with 30 or more of the 100 still queued.
			var tookEnd time.Time
			for waits == 0 && takes < 70 {
				takes++
				tookEnd = behindTake(t, r, viaClaim(takes))
			}
			if !r.deqSole.own {
				t.Skip("the consumer did not become the sole claimer")
			}
			if waits != 1 {
				t.Fatalf("after %d takes of 100: %d waits", takes, waits)
			}
			if err := <-tries; err != nil {
				t.Fatalf("the Try call behind the wait: %v", err)
			}
			if waited := tookEnd.Sub(hookEnd); waited < ringx.BehindWindow {
				t.Fatalf("the take that waited for a run that never came went on %v after its wait began, under the window (%v)", waited, ringx.BehindWindow)
			}
			if r.getMu.waiting.Load() != 0 {
				t.Fatal("the handle lock still says its holder waits for the ring")
			}
			behindPut(t, r, 1000) // 64 or more queued at every look from here on
			for end := takes + 6*ringx.BehindEvery; takes < end; {
				takes++
				behindTake(t, r, viaClaim(takes))
			}
			if waits != 1 {
				t.Fatalf("%d waits with 64 or more queued at each look", waits)
			}
		})
	}
}

// TestKeepBehindSoleOnly: a consumer whose side another handle has
// claimed on (no sole claimer) never waits, however close behind.
func TestKeepBehindSoleOnly(t *testing.T) {
	skipNoSole(t)
	seg, r := behindRing(t, 200)
	other := openSole(t, seg)
	behindTake(t, r, false)
	behindTake(t, other, false) // the side is shared from here on
	waits := 0
	behindWaitHook = func() { waits++ }
	t.Cleanup(func() { behindWaitHook = nil })
	for i := 0; i < 3*ringx.BehindEvery; i++ { // 198 down to 6 queued
		behindTake(t, r, i%2 == 1)
	}
	if r.deqSole.own || waits != 0 {
		t.Fatalf("sole %v, %d waits on a shared side", r.deqSole.own, waits)
	}
}

var errTookBehind = errorString("a TryGet took a message while another Get held the handle")

type errorString string

func (e errorString) Error() string { return string(e) }
