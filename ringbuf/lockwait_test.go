package ringbuf_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// errNothing stands for a Try call's "nothing now" (ok false, no error).
var errNothing = errors.New("nothing now")

// tryResult maps a Try call's (ok, err) to errNothing, nil or err.
func tryResult(ok bool, err error) error {
	if err == nil && !ok {
		return errNothing
	}
	return err
}

// untilFull calls try until it reports no room and returns errNothing, or
// try's error.
func untilFull(try func() (bool, error)) error {
	for {
		ok, err := try()
		if err != nil {
			return err
		}
		if !ok {
			return errNothing
		}
	}
}

// lockWaitCase is one side of one handle: fill readies the side for a
// call that parks (a full ring for a put, an empty one for a get), park
// is that call, parked reports it registered to sleep, and calls are the
// other calls of the side, each with the error it must return when its
// context (20 ms) ends while the parked call holds the side.
type lockWaitCase struct {
	fill   func() error
	park   func(ctx context.Context) error
	parked func() bool
	calls  map[string]func(ctx context.Context) error
	want   map[string]error // errNothing for a Try call, else the deadline
}

// TestWaitingCallGivesUpBehindAnother: a blocking call parked on a ring
// handle (a Get on an empty MPMC ring, a Put on a full one, a Write on a
// full MPSC ring) holds the handle's lock of its side for as long as it
// waits. Another goroutine's call on the same side waits for that lock:
// a blocking one must give up when its own context ends, and a Try call
// must report "nothing now" at once (the parked call waits exactly
// because there is nothing), not wait for ever with the parked call.
// Each side is tried with the lock biased to the parked goroutine (it
// used the handle before it parked) and with the bias revoked (another
// goroutine used the handle first).
func TestWaitingCallGivesUpBehindAnother(t *testing.T) {
	for _, side := range []string{"mpmc-get", "mpmc-put", "mpsc-write"} {
		for _, parkerUsedFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/parker-used-first=%v", side, parkerUsedFirst), func(t *testing.T) {
				c := lockWaitSide(t, side)
				behindParked(t, c, parkerUsedFirst)
			})
		}
	}
}

func lockWaitSide(t *testing.T, side string) lockWaitCase {
	seg := shmtest.Segment(t, 1<<20)
	switch side {
	case "mpmc-get", "mpmc-put":
		m, err := ringbuf.NewMPMC(seg, "r", 64, 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		buf := make([]byte, 64)
		if side == "mpmc-get" {
			c := lockWaitCase{
				fill: func() error { // empty: a Try that finds nothing, twice, for the bias
					_, ok, err := m.TryGet(buf)
					return tryResult(ok, err)
				},
				park:   func(ctx context.Context) error { _, err := m.Get(ctx, buf); return err },
				parked: func() bool { return ringbuf.DataWaiters(m) != 0 },
				calls: map[string]func(context.Context) error{
					"Get":     func(ctx context.Context) error { _, err := m.Get(ctx, buf); return err },
					"GetFunc": func(ctx context.Context) error { return m.GetFunc(ctx, func([]byte) {}) },
					"GetBatchFunc": func(ctx context.Context) error {
						_, err := m.GetBatchFunc(ctx, 8, func([]byte) {})
						return err
					},
					"TryGet": func(context.Context) error { _, ok, err := m.TryGet(buf); return tryResult(ok, err) },
					"TryGetFunc": func(context.Context) error {
						return tryResult(m.TryGetFunc(func([]byte) {}))
					},
					"TryGetBatchFunc": func(context.Context) error {
						n, err := m.TryGetBatchFunc(8, func([]byte) {})
						return tryResult(n > 0, err)
					},
				},
			}
			c.want = map[string]error{"TryGet": errNothing, "TryGetFunc": errNothing, "TryGetBatchFunc": errNothing}
			return c
		}
		c := lockWaitCase{
			fill:   func() error { return untilFull(func() (bool, error) { return m.TryPut(buf) }) },
			park:   func(ctx context.Context) error { return m.Put(ctx, buf) },
			parked: func() bool { return ringbuf.SpaceWaiters(m) != 0 },
			calls: map[string]func(context.Context) error{
				"Put":     func(ctx context.Context) error { return m.Put(ctx, buf) },
				"PutFunc": func(ctx context.Context) error { return m.PutFunc(ctx, func([]byte) int { return 1 }) },
				"PutBatch": func(ctx context.Context) error {
					_, err := m.PutBatch(ctx, [][]byte{buf, buf})
					return err
				},
				"TryPut": func(context.Context) error { return tryResult(m.TryPut(buf)) },
				"TryPutFunc": func(context.Context) error {
					return tryResult(m.TryPutFunc(func([]byte) int { return 1 }))
				},
				"TryPutBatchFunc": func(context.Context) error {
					n, err := m.TryPutBatchFunc(2, func(int, []byte) int { return 1 })
					return tryResult(n > 0, err)
				},
			},
		}
		c.want = map[string]error{"TryPut": errNothing, "TryPutFunc": errNothing, "TryPutBatchFunc": errNothing}
		return c
	case "mpsc-write":
		r, err := ringbuf.NewMPSC(seg, "r", 4096)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rec := make([]byte, 40)
		big := make([]byte, 256) // placed on a cache line: the aligned path
		c := lockWaitCase{
			fill:   func() error { return untilFull(func() (bool, error) { return r.TryWrite(rec) }) },
			park:   func(ctx context.Context) error { return r.Write(ctx, rec) },
			parked: func() bool { return ringbuf.ProducerWaiting(r) },
			calls: map[string]func(context.Context) error{
				"Write":        func(ctx context.Context) error { return r.Write(ctx, rec) },
				"Write-256":    func(ctx context.Context) error { return r.Write(ctx, big) },
				"WriteBatch":   func(ctx context.Context) error { _, err := r.WriteBatch(ctx, [][]byte{rec, rec}); return err },
				"Reserve":      func(ctx context.Context) error { _, err := r.Reserve(ctx, 40); return err },
				"TryWrite":     func(context.Context) error { return tryResult(r.TryWrite(rec)) },
				"TryWrite-256": func(context.Context) error { return tryResult(r.TryWrite(big)) },
				"TryWriteBatch": func(context.Context) error {
					n, err := r.TryWriteBatch([][]byte{rec, rec})
					return tryResult(n > 0, err)
				},
				"TryReserve": func(context.Context) error { _, ok, err := r.TryReserve(40); return tryResult(ok, err) },
			},
		}
		c.want = map[string]error{"TryWrite": errNothing, "TryWrite-256": errNothing, "TryWriteBatch": errNothing, "TryReserve": errNothing}
		return c
	}
	t.Fatalf("no side %q", side)
	return lockWaitCase{}
}

// behindParked parks c's call in a goroutine of its own (which readies the
// side first when parkerUsedFirst, and so holds the handle's lock through
// its bias, else the test's goroutine does), then runs each of c's calls
// with a 20 ms deadline beside it: each must end with its wanted error
// within 2 s.
func behindParked(t *testing.T, c lockWaitCase, parkerUsedFirst bool) {
	ctx := ctxT(t, shmtest.Timeout(t, 30*time.Second))
	ready := func() {
		for range 3 { // three uses: the lock is biased to this goroutine
			if err := c.fill(); err != errNothing {
				t.Errorf("readying the side: %v", err)
			}
		}
	}
	if !parkerUsedFirst {
		ready()
	}
	long, stop := context.WithCancel(ctx)
	defer stop()
	parkedErr := make(chan error, 1)
	go func() {
		if parkerUsedFirst {
			ready()
		}
		parkedErr <- c.park(long)
	}()
	for !c.parked() {
		if ctx.Err() != nil {
			t.Fatal("the call to park never parked")
		}
		runtime.Gosched()
	}
	done := make(chan string, len(c.calls))
	for name, call := range c.calls {
		go func() {
			cc, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			want := c.want[name]
			if want == nil {
				want = context.DeadlineExceeded
			}
			if err := call(cc); !errors.Is(err, want) {
				t.Errorf("%s beside a parked call = %v, want %v", name, err, want)
			}
			done <- name
		}()
	}
	timeout := time.After(2 * time.Second)
	for ended := 0; ended < len(c.calls); ended++ {
		select {
		case <-done:
		case <-timeout:
			stop() // the parked call ends, and with it the stuck ones
			t.Errorf("%d of %d calls still wait after 2 s for another goroutine's parked call (20 ms deadline, or a Try)", len(c.calls)-ended, len(c.calls))
			for ; ended < len(c.calls); ended++ {
				<-done
			}
			<-parkedErr
			return
		}
	}
	stop()
	if err := <-parkedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("parked call = %v, want context.Canceled", err)
	}
}

// TestDoneContextCallsBesideOthers: a call whose context is done already
// does what it can without waiting, as before a lock that honours
// contexts: a Put on a ring with room, a Get of a queued message and a
// Write with room succeed, whichever of the handle's other goroutines
// happens to hold its lock for a moment. (LockCall gave up with the
// context's error on finding the lock held at all: a fifth of such Puts
// from 4 goroutines failed.)
func TestDoneContextCallsBesideOthers(t *testing.T) {
	const goroutines, each = 4, 2000
	done, cancel := context.WithCancel(context.Background())
	cancel()
	seg := shmtest.Segment(t, 8<<20)
	m, err := ringbuf.NewMPMC(seg, "m", 8192, 8) // room for every Put
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := ringbuf.NewMPSC(seg, "p", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := []byte("x")
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"MPMC Put", func() error { return m.Put(done, msg) }},
		{"MPMC Get", func() error { _, err := m.Get(done, make([]byte, 8)); return err }}, // the Puts' messages
		{"MPSC Write", func() error { return p.Write(done, msg) }},
	} {
		var failed atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if err := c.call(); err != nil {
						failed.Add(1)
						first.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Errorf("%s with a done context, %d goroutines on one handle: %d of %d failed (%v), want none: nothing had to wait", c.name, goroutines, n, goroutines*each, first.Load())
		}
	}
}

// TestWriteBatchCountsNoFailedRecord: WriteBatch whose first record is
// written alone (one of alignMin bytes or more) returns 0 with the error
// when that write fails, not 1.
func TestWriteBatchCountsNoFailedRecord(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	p, err := ringbuf.NewMPSC(seg, "p", 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := make([]byte, 3000)
	if err := untilFull(func() (bool, error) { return p.TryWrite(big) }); err != errNothing {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	n, err := p.WriteBatch(ctx, [][]byte{big, big})
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WriteBatch on a full ring = %d, %v; want 0 and the deadline", n, err)
	}
}
