package ringbuf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// ctxT is done d on, or when t ends, before its cleanups: goroutines
// waiting with it return before the segment is unmapped.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// fill makes a deterministic payload of n bytes for (producer, seq).
func fill(b []byte, producer, seq int) {
	x := uint32(producer*2654435761 + seq*40503 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}

func TestSPSCBasic(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewSPSC(seg, "r", 1024)
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxRecord() != 1024/2-8 {
		t.Fatalf("MaxRecord %d", r.MaxRecord())
	}
	buf := make([]byte, 1024)
	want := make([]byte, 1024)
	// Every length from 0 to MaxRecord, many laps, in lock-step and in bursts.
	for burst := 1; burst <= 5; burst += 2 {
		for n := 0; n <= r.MaxRecord(); n += burst {
			for k := 0; k < burst && n+k <= r.MaxRecord(); k++ {
				fill(want[:n+k], burst, n+k)
				if ok, err := r.TryWrite(want[:n+k]); err != nil || !ok {
					if !ok && err == nil {
						break // full: read what is there
					}
					t.Fatalf("TryWrite(%d): %v %v", n+k, ok, err)
				}
			}
			for {
				m, ok, err := r.TryRead(buf)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				_ = m
			}
			if err := ringbuf.Sane(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Exact content round trip across wraps.
	for i := 0; i < 3000; i++ {
		n := (i * 37) % (r.MaxRecord() + 1)
		fill(want[:n], 7, i)
		if err := r.Write(context.Background(), want[:n]); err != nil {
			t.Fatal(err)
		}
		m, err := r.Read(context.Background(), buf)
		if err != nil || m != n || !bytes.Equal(buf[:m], want[:n]) {
			t.Fatalf("record %d: got %d bytes, err %v", i, m, err)
		}
	}
	if _, ok, _ := r.TryRead(buf); ok || r.Len() != 0 {
		t.Fatalf("Len %d after draining", r.Len())
	}
}

func TestTooLarge(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 256)
	_, err := r.TryWrite(make([]byte, 121))
	if !errors.Is(err, ringbuf.ErrTooLarge) || !strings.Contains(err.Error(), "120") {
		t.Fatalf("got %v, want ErrTooLarge naming 120", err)
	}
	if ok, err := r.TryWrite(make([]byte, 120)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := ringbuf.NewSPSC(seg, "bad", 1000); !errors.Is(err, ringbuf.ErrInvalid) {
		t.Fatalf("capacity 1000: %v", err)
	}
	m, _ := ringbuf.NewMPMC(seg, "m", 4, 16)
	if _, err := m.TryPut(make([]byte, 17)); !errors.Is(err, ringbuf.ErrTooLarge) || !strings.Contains(err.Error(), "16") {
		t.Fatalf("MPMC: %v", err)
	}
}

func TestReserveCommitPeekDiscard(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 256)
	b, ok, err := r.TryReserve(10)
	if !ok || err != nil || len(b) != 10 {
		t.Fatal(ok, err, len(b))
	}
	copy(b, "0123456789")
	if _, ok, _ := r.TryPeek(); ok {
		t.Fatal("record visible before Commit")
	}
	r.Commit()
	rec, ok, err := r.TryPeek()
	if !ok || err != nil || string(rec) != "0123456789" {
		t.Fatalf("%q %v %v", rec, ok, err)
	}
	rec2, _, _ := r.TryPeek()
	if &rec2[0] != &rec[0] {
		t.Fatal("second Peek returned another record")
	}
	r.Discard()
	// Cancel: the consumer never sees it.
	r.TryReserve(5)
	r.Cancel()
	r.TryWrite([]byte("after"))
	rec, ok, _ = r.TryPeek()
	if !ok || string(rec) != "after" {
		t.Fatalf("after Cancel: %q %v", rec, ok)
	}
	r.Discard()
	// Zero-length records.
	for i := 0; i < 100; i++ {
		if ok, err := r.TryWrite(nil); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if n, ok, err := r.TryRead(nil); n != 0 || !ok || err != nil {
			t.Fatal(n, ok, err)
		}
	}
	// Short buffer keeps the record.
	r.TryWrite([]byte("abcdef"))
	if n, err := r.Read(context.Background(), make([]byte, 3)); n != 6 || !errors.Is(err, ringbuf.ErrShortBuffer) {
		t.Fatal(n, err)
	}
	if n, err := r.ReadBatch(context.Background(), func(rec []byte) bool { return len(rec) == 6 }); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if err := ringbuf.Sane(r); err != nil {
		t.Fatal(err)
	}
}

func TestReadBatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 4096)
	next := 0
	for round := 0; round < 50; round++ {
		for i := 0; ; i++ {
			if ok, _ := r.TryWrite([]byte(fmt.Sprint(round*1000 + i))); !ok {
				break
			}
		}
		n, err := r.ReadBatch(context.Background(), func(rec []byte) bool {
			var v int
			fmt.Sscan(string(rec), &v)
			if v%1000 != next {
				t.Fatalf("round %d: got %d, want %d", round, v, next)
			}
			next++
			return true
		})
		if err != nil || n == 0 || n != next {
			t.Fatal(n, err, next)
		}
		next = 0
	}
	// fn returning false stops the batch and leaves the rest.
	r.TryWrite([]byte("a"))
	r.TryWrite([]byte("b"))
	n, _ := r.TryReadBatch(func(rec []byte) bool { return false })
	rec, _, _ := r.TryPeek()
	if n != 1 || string(rec) != "b" {
		t.Fatalf("n %d next %q", n, rec)
	}
}

// TestAdaptiveSpin: a wait woken after a gap (spin and park) that the
// longest spin would have covered makes the handle's next waits spin twice
// as long before they park, up to 16 times the base; a longer gap, or a
// park that a deadline or the poll period ended after 50 µs or more,
// halves the spin again, down to the base; a deadline that cut a short
// park teaches nothing.
func TestAdaptiveSpin(t *testing.T) {
	// Rounds of 100 ns: the longest spin (16 × 64 rounds) lasts 102.4 µs.
	short := ringbuf.Parked{Spun: 5 * time.Microsecond, Rounds: 50, Parked: 10 * time.Microsecond, Woken: true}
	long := short
	long.Parked = 145 * time.Microsecond                                                         // a gap of 150 µs: past the longest spin
	cut := ringbuf.Parked{Spun: 5 * time.Microsecond, Rounds: 50, Parked: 10 * time.Microsecond} // a deadline
	idle := ringbuf.Parked{Spun: 5 * time.Microsecond, Rounds: 50, Parked: time.Millisecond}     // a deadline or the poll
	untimed := ringbuf.Parked{Parked: 10 * time.Microsecond, Woken: true}
	untimedLong := ringbuf.Parked{Parked: time.Millisecond, Woken: true}
	repeat := func(p ringbuf.Parked, n int) []ringbuf.Parked {
		var ps []ringbuf.Parked
		for range n {
			ps = append(ps, p)
		}
		return ps
	}
	capped := repeat(short, 20)
	capped = capped[:len(capped):len(capped)] // each case appends to its own copy
	for _, c := range []struct {
		name  string
		waits []ringbuf.Parked
		times int // of the base
	}{
		{"none", nil, 1},
		{"one short gap", []ringbuf.Parked{short}, 2},
		{"three short gaps", repeat(short, 3), 8},
		{"many short gaps: capped", capped, 16},
		{"a long gap", []ringbuf.Parked{long}, 1},
		{"capped, then a long gap", append(capped, long), 8},
		{"capped, then many long gaps", append(capped, repeat(long, 10)...), 1},
		{"capped, then short parks cut by deadlines", append(capped, repeat(cut, 10)...), 16},
		{"capped, then idle parks", append(capped, idle, idle), 4},
		{"untimed spin, short park", []ringbuf.Parked{untimed}, 2},
		{"untimed spin, long park", append(repeat(untimed, 3), untimedLong), 4},
	} {
		looks, base := ringbuf.AdaptiveLooks(c.waits...)
		if base < 1 || looks != c.times*base {
			t.Errorf("%s: %d looks before parking, want %d (base %d)", c.name, looks, c.times*base, base)
		}
	}
	// New options (SetOptions) start from their own base.
	if looks, base := ringbuf.AdaptiveLooksReset(capped...); looks != base {
		t.Errorf("capped, then SetOptions: %d looks before parking, want the base %d", looks, base)
	}
}

func TestBlockingContext(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 256)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx, make([]byte, 8)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on empty: %v", err)
	}
	// A context done before the call matters only if the call must wait,
	// and then ends the wait before its spin.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if looks, err := ringbuf.WaitLooks(done); !errors.Is(err, context.Canceled) || looks != 0 {
		t.Fatalf("wait under a done context: %v after %d looks, want context.Canceled before any", err, looks)
	}
	if _, err := r.Read(done, make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read on empty, done context: %v", err)
	}
	r.TryWrite([]byte("ready"))
	if n, err := r.Read(done, make([]byte, 8)); n != 5 || err != nil {
		t.Fatalf("Read of a waiting record, done context: %d, %v", n, err)
	}
	for {
		if ok, _ := r.TryWrite(make([]byte, 50)); !ok {
			break
		}
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go cancel2()
	if err := r.Write(ctx2, make([]byte, 50)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write on full: %v", err)
	}
	// A parked reader is woken by a writer.
	r2, _ := ringbuf.NewSPSC(seg, "r2", 256)
	for _, s := range []int{0, 1, 2} {
		r2.SetOptions(ringbuf.WithStrategy(strategies[s]))
		done := make(chan error)
		go func() {
			_, err := r2.Read(ctxT(t, 10*time.Second), make([]byte, 8))
			done <- err
		}()
		r2.Write(context.Background(), []byte("x"))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestEOF(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, _ := ringbuf.NewSPSC(seg, "r", 256)
	r.Write(context.Background(), []byte("last"))
	r.CloseWrite()
	buf := make([]byte, 8)
	if n, err := r.Read(ctxT(t, 5*time.Second), buf); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := r.Read(ctxT(t, 5*time.Second), buf); err != io.EOF {
		t.Fatalf("after CloseWrite: %v, want io.EOF", err)
	}
	if err := r.Write(context.Background(), nil); !errors.Is(err, ringbuf.ErrClosed) {
		t.Fatalf("Write after CloseWrite: %v", err)
	}
}

// TestMPSCCloseWriteWhileBlocked: CloseWrite on an MPSC handle whose Write
// waits for room in another goroutine ends that Write with ErrClosed
// instead of waiting behind it, and loses none of the records written.
func TestMPSCCloseWriteWhileBlocked(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := ringbuf.NewMPSC(seg, "m", 256)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AttachConsumer(); err != nil {
		t.Fatal(err)
	}
	h, err := ringbuf.OpenMPSC(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("twenty bytes of data")
	written := 0
	for {
		ok, err := h.TryWrite(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		written++
	}
	blocked := make(chan error, 1)
	go func() { blocked <- h.Write(ctxT(t, 20*time.Second), msg) }()
	for !ringbuf.ProducerWaiting(h) {
		runtime.Gosched() // polling a condition, not synchronising on time
	}
	closed := make(chan error, 1)
	go func() { closed <- h.CloseWrite() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
	case <-time.After(5 * time.Second): // a failure guard only: it returns at once
		t.Error("CloseWrite waits behind the handle's blocked Write")
		<-blocked // its context ends; then CloseWrite goes on: both leave the ring before it is unmapped
		<-closed
		return
	}
	if err := <-blocked; !errors.Is(err, ringbuf.ErrClosed) {
		t.Fatalf("Write blocked across CloseWrite: %v, want ErrClosed", err)
	}
	buf := make([]byte, 64)
	for i := 0; i < written; i++ {
		if n, err := c.Read(ctxT(t, 5*time.Second), buf); err != nil || string(buf[:n]) != string(msg) {
			t.Fatalf("record %d of %d: %q, %v", i, written, buf[:n], err)
		}
	}
	if _, err := c.Read(ctxT(t, 5*time.Second), buf); err != io.EOF {
		t.Fatalf("Read after the records: %v, want io.EOF", err)
	}
}

// TestMPSCInProcess: producer goroutines with a handle each, and sharing
// one handle (whose lock serialises them; its fast paths, tested without
// the lock, must not race with the general path: run under -race).
func TestMPSCInProcess(t *testing.T) {
	t.Run("handles", func(t *testing.T) { mpscInProcess(t, false) })
	t.Run("shared", func(t *testing.T) { mpscInProcess(t, true) })
}

func mpscInProcess(t *testing.T, shared bool) {
	seg := shmtest.Segment(t, 1<<20)
	const producers, per = 4, 5000
	c, err := ringbuf.NewMPSC(seg, "m", 4096)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // on a t.Fatal in checkStream, the producers leave the ring before its segment goes
	var h *ringbuf.MPSC
	for p := 0; p < producers; p++ {
		if h == nil || !shared {
			if h, err = ringbuf.OpenMPSC(seg, "m"); err != nil {
				t.Fatal(err)
			}
		}
		w := h
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !shared {
				defer w.CloseWrite()
			}
			msg := make([]byte, 200)
			for i := 0; i < per; i++ {
				n := 8 + (i*13)%190
				msg[0], msg[1] = byte(p), byte(i)
				msg[2], msg[3] = byte(i>>8), byte(i>>16)
				fill(msg[4:n], p, i)
				if err := w.Write(ctxT(t, 10*time.Second), msg[:n]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	checkStream(t, c, producers, per)
	wg.Wait()
	if shared {
		h.CloseWrite()
	}
}

// checkStream reads producers*per messages and checks order and content.
func checkStream(t *testing.T, c interface {
	Read(context.Context, []byte) (int, error)
}, producers, per int) {
	t.Helper()
	next := make([]int, producers)
	buf := make([]byte, 1<<12)
	want := make([]byte, 1<<12)
	for got := 0; got < producers*per; got++ {
		n, err := c.Read(ctxT(t, 20*time.Second), buf)
		if err != nil {
			t.Fatalf("after %d: %v", got, err)
		}
		p, i := int(buf[0]), int(buf[1])|int(buf[2])<<8|int(buf[3])<<16
		if p >= producers || i != next[p] {
			t.Fatalf("producer %d message %d, want %d", p, i, next[p])
		}
		fill(want[:n-4], p, i)
		if !bytes.Equal(buf[4:n], want[:n-4]) {
			t.Fatalf("producer %d message %d corrupt", p, i)
		}
		next[p]++
	}
}

// TestMPMCInProcess: producers and consumers on handles of their own in
// one process; every message arrives once, in each producer's order. The
// consumers stop when every message has arrived (not after a lull: on a
// loaded machine the process may not run for longer than any lull, and
// producers held on a full ring by consumers that left would wait
// forever), and every wait is bounded, so a lost message fails the test
// instead of hanging it.
func TestMPMCInProcess(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "q", 64, 32)
	if err != nil {
		t.Fatal(err)
	}
	const producers, consumers, per = 3, 3, 3000
	ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
	gctx, allIn := context.WithCancel(ctx) // cancelled once the last message is in
	defer allIn()
	var left atomic.Int64
	left.Store(producers * per)
	var mu sync.Mutex
	seen := make(map[[2]int]bool)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		h, _ := ringbuf.OpenMPMC(seg, "q")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := h.Put(ctx, []byte{byte(p), byte(i), byte(i >> 8)}); err != nil {
					t.Errorf("producer %d message %d: %v", p, i, err)
					return
				}
			}
		}()
	}
	var cw sync.WaitGroup
	for c := 0; c < consumers; c++ {
		h, _ := ringbuf.OpenMPMC(seg, "q")
		cw.Add(1)
		go func() {
			defer cw.Done()
			buf := make([]byte, 32)
			last := []int{-1, -1, -1}
			for {
				n, err := h.Get(gctx, buf)
				if err != nil {
					if gctx.Err() == nil || left.Load() > 0 {
						t.Errorf("consumer %d with %d messages still to come: %v", c, left.Load(), err)
					}
					return
				}
				k := [2]int{int(buf[0]), int(buf[1]) | int(buf[2])<<8}
				if n != 3 || k[1] <= last[k[0]] {
					t.Errorf("out of order: %v after %d", k, last[k[0]])
				}
				last[k[0]] = k[1]
				mu.Lock()
				if seen[k] {
					t.Errorf("duplicate %v", k)
				}
				seen[k] = true
				mu.Unlock()
				if left.Add(-1) == 0 {
					allIn() // the other consumers' Gets return
				}
			}
		}()
	}
	wg.Wait()
	cw.Wait()
	if len(seen) != producers*per {
		t.Fatalf("got %d messages, want %d", len(seen), producers*per)
	}
	if err := ringbuf.Sane(r); err != nil {
		t.Fatal(err)
	}
}

// TestMPMCClosedHandle: after Close, every call on the handle refuses with
// ErrClosed, whichever role it had taken, and the ring stays sane for the
// other handles.
func TestMPMCClosedHandle(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := ringbuf.NewMPMC(seg, "q", 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ringbuf.OpenMPMC(seg, "q")
	if ok, err := h.TryPutFunc(func(slot []byte) int { return copy(slot, "a") }); !ok || err != nil {
		t.Fatalf("TryPutFunc = %v, %v", ok, err)
	}
	if ok, err := h.TryGetFunc(func([]byte) {}); !ok || err != nil {
		t.Fatalf("TryGetFunc = %v, %v", ok, err)
	}
	h.Close()
	ctx := ctxT(t, 5*time.Second)
	buf := make([]byte, 16)
	calls := map[string]func() error{
		"TryPutFunc": func() error { _, err := h.TryPutFunc(func(slot []byte) int { return 0 }); return err },
		"TryGetFunc": func() error { _, err := h.TryGetFunc(func([]byte) {}); return err },
		"TryPut":     func() error { _, err := h.TryPut([]byte("b")); return err },
		"Put":        func() error { return h.Put(ctx, []byte("b")) },
		"TryGet":     func() error { _, _, err := h.TryGet(buf); return err },
		"GetFunc":    func() error { return h.GetFunc(ctx, func([]byte) {}) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ringbuf.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := ringbuf.Sane(r); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := r.TryGet(buf); ok || err != nil {
		t.Fatalf("TryGet on the other handle = %d, %v, %v: a closed handle's call got through", n, ok, err)
	}
}

// TestMPMCCloseWakesBlocked: Close on a handle releases that handle's own
// calls blocked on a full or an empty ring (ErrClosed) rather than waiting
// for them to finish.
func TestMPMCCloseWakesBlocked(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	full, _ := ringbuf.NewMPMC(seg, "full", 2, 8)
	empty, _ := ringbuf.NewMPMC(seg, "empty", 2, 8)
	for full.TryPut([]byte("x")); ; {
		if ok, err := full.TryPut([]byte("x")); !ok || err != nil {
			break
		}
	}
	ctx := ctxT(t, 10*time.Second)
	errs := make(chan error, 2)
	shmtest.Go(t, func() { errs <- full.Put(ctx, []byte("y")) }) // both leave the rings before the segment goes
	shmtest.Go(t, func() { errs <- empty.GetFunc(ctx, func([]byte) {}) })
	// Both calls are parked once each ring counts a waiter; Close must
	// then release them.
	for ringbuf.SpaceWaiters(full) == 0 || ringbuf.DataWaiters(empty) == 0 {
		runtime.Gosched()
	}
	full.Close()
	empty.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, ringbuf.ErrClosed) {
			t.Fatalf("blocked call after Close = %v, want ErrClosed", err)
		}
	}
}

// TestParkedGoroutinesShareThreads parks many goroutines on one ring and
// checks that they do not hold an OS thread each (atomics.Await keeps one
// sleeper per process per futex word).
func TestParkedGoroutinesShareThreads(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	const n = 200
	r, err := ringbuf.NewMPMC(seg, "q", 256, 8, ringbuf.WithProducers(n+1))
	if err != nil {
		t.Fatal(err)
	}
	threads := pprof.Lookup("threadcreate")
	before := threads.Count()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // on a t.Fatal below, the parked getters leave the ring before its segment goes
	got := make(chan byte, n)
	for i := 0; i < n; i++ {
		h, err := ringbuf.OpenMPMC(seg, "q")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AttachConsumer(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			if _, err := h.Get(ctxT(t, 30*time.Second), buf); err != nil {
				t.Error(err)
				return
			}
			got <- buf[0]
		}()
	}
	// Let them park: wait until every one of them has registered as a waiter
	// (the data futex's waiter count is in the ring; Len stays 0 meanwhile).
	for deadline := time.Now().Add(20 * time.Second); ringbuf.DataWaiters(r) < n && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	if w := ringbuf.DataWaiters(r); w < n {
		t.Fatalf("only %d of %d goroutines parked", w, n)
	}
	if grown := threads.Count() - before; grown > 16 {
		t.Fatalf("%d goroutines parked on one ring created %d OS threads", n, grown)
	}
	for i := 0; i < n; i++ {
		if err := r.Put(context.Background(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d of %d woke with a message", len(got), n)
	}
}

func TestWriteBatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, _ := ringbuf.NewSPSC(seg, "r", 1<<12, ringbuf.WithWriteBatch(512))
	buf := make([]byte, 64)
	for i := 0; i < 4; i++ { // 4 records of 72 bytes: under the batch
		r.TryWrite(buf[:64])
	}
	if _, ok, _ := r.TryRead(buf); ok {
		t.Fatal("a record visible before its batch was published")
	}
	r.Flush()
	for i := 0; i < 4; i++ {
		if _, ok, err := r.TryRead(buf); !ok || err != nil {
			t.Fatalf("record %d after Flush: %v %v", i, ok, err)
		}
	}
	for i := 0; i < 8; i++ { // 576 bytes: the eighth publishes
		r.TryWrite(buf[:64])
	}
	n := 0
	for {
		if _, ok, _ := r.TryRead(buf); !ok {
			break
		}
		n++
	}
	if n != 8 {
		t.Fatalf("%d records after the batch filled, want 8", n)
	}
	// A producer that fills the ring publishes before it waits: no deadlock.
	done := make(chan error, 1) // buffered: a t.Fatal below leaves it unread
	shmtest.Go(t, func() {
		for i := 0; i < 10000; i++ {
			buf := []byte{byte(i), byte(i >> 8)}
			if err := r.Write(t.Context(), buf); err != nil { // done when t ends: no Write outlives the test
				done <- err
				return
			}
		}
		done <- r.CloseWrite()
	})
	got := 0
	rbuf := make([]byte, 64)
	for {
		k, err := r.Read(ctxT(t, 20*time.Second), rbuf)
		if err == io.EOF {
			break
		}
		if err != nil || k != 2 || int(rbuf[0])|int(rbuf[1])<<8 != got&0xffff {
			t.Fatalf("record %d: %d bytes %v, err %v", got, k, rbuf[:2], err)
		}
		got++
	}
	if err := <-done; err != nil || got != 10000 {
		t.Fatal(err, got)
	}
}

// TestAlignedPayload: a record of 2 KiB or more gets its payload on a cache
// line (after padding the consumer skips), wherever the tail stands, in
// SPSC and MPSC rings, written by Reserve or Write and read every way; a
// record whose aligned placement could never fit goes unaligned rather
// than never.
func TestAlignedPayload(t *testing.T) {
	aligned := func(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 == 0 }
	type ring interface {
		TryReserve(n int) ([]byte, bool, error)
		Commit()
		TryWrite(p []byte) (bool, error)
		TryPeek() ([]byte, bool, error)
		Discard()
		TryRead(buf []byte) (int, bool, error)
		TryReadBatch(fn func(rec []byte) bool) (int, error)
		MaxRecord() int
	}
	seg := shmtest.Segment(t, 1<<17)
	spsc, err1 := ringbuf.NewSPSC(seg, "spsc", 1<<14)
	mpsc, err2 := ringbuf.NewMPSC(seg, "mpsc", 1<<14)
	small, err3 := ringbuf.NewSPSC(seg, "small", 1<<13)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		r     ring
		sizes []int
		check int // the largest payload that must be aligned
	}{
		{"SPSC", spsc, []int{0, 100, 2047, 2048, 3000, 4096, 5000, 7, 2500, 8184}, 5000},
		{"MPSC", mpsc, []int{0, 100, 2047, 2048, 3000, 4096, 5000, 7, 2500, 8184}, 5000},
		// 8 KiB: two records of 2 KiB end at 4096, where the largest record
		// fits unaligned (up to the end), and aligned not at all.
		{"fallback", small, []int{2040, 2040, 4088}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			msg := make([]byte, r.MaxRecord())
			got := make([]byte, r.MaxRecord())
			for i := 0; i < 300; i++ {
				n := tc.sizes[i%len(tc.sizes)]
				fill(msg[:n], 1, i)
				if i%2 == 0 {
					b, ok, err := r.TryReserve(n)
					if !ok || err != nil {
						t.Fatalf("record %d (%d bytes): Reserve: %v %v", i, n, ok, err)
					}
					if n >= 2048 && n <= tc.check && !aligned(b) {
						t.Fatalf("record %d (%d bytes): payload at %p, not on a cache line", i, n, unsafe.SliceData(b))
					}
					copy(b, msg[:n])
					r.Commit()
				} else if ok, err := r.TryWrite(msg[:n]); !ok || err != nil {
					t.Fatalf("record %d (%d bytes): Write: %v %v", i, n, ok, err)
				}
				var rec []byte
				switch i % 3 {
				case 0:
					p, ok, err := r.TryPeek()
					if !ok || err != nil {
						t.Fatalf("record %d: Peek: %v %v", i, ok, err)
					}
					if n >= 2048 && n <= tc.check && !aligned(p) {
						t.Fatalf("record %d (%d bytes): peeked at %p, not on a cache line", i, n, unsafe.SliceData(p))
					}
					rec = append(got[:0], p...)
					r.Discard()
				case 1:
					k, ok, err := r.TryRead(got)
					if !ok || err != nil {
						t.Fatalf("record %d: Read: %v %v", i, ok, err)
					}
					rec = got[:k]
				default:
					if k, err := r.TryReadBatch(func(p []byte) bool { rec = append(got[:0], p...); return true }); k != 1 || err != nil {
						t.Fatalf("record %d: ReadBatch: %d records, %v", i, k, err)
					}
				}
				if !bytes.Equal(rec, msg[:n]) {
					t.Fatalf("record %d: %d bytes back, want %d, or other bytes", i, len(rec), n)
				}
			}
			if err := ringbuf.Sane(r); err != nil {
				t.Fatal(err)
			}
		})
	}
}
