package ringbuf

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestStreamingMPSCConsumerTakesLoneRecord: an MPSC consumer whose reads
// found their records at once is streaming, so its next wait starts with
// a lull (see lull), but a read parked after it gets a lone record written
// later, and a read that waited is no longer streaming.
func TestStreamingMPSCConsumerTakesLoneRecord(t *testing.T) {
	p, c := ringPair(t, "mpsc", nil)
	ctx := ctxForTest(t)
	for i := range 3 {
		if err := p.Write(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8)
	read := func(want byte) error {
		n, err := c.Read(ctx, buf)
		if err == nil && (n != 1 || buf[0] != want) {
			t.Errorf("Read = %d bytes %v, want [%d]", n, buf[:n], want)
		}
		return err
	}
	if c.c.streaming {
		t.Fatal("a consumer that never read is streaming")
	}
	for i := range 3 {
		if err := read(byte(i)); err != nil {
			t.Fatal(err)
		}
	}
	if !c.c.streaming {
		t.Fatal("reads that found their records at once: not streaming")
	}
	got := make(chan error, 1)
	go func() { got <- read(3) }()
	for c.c.wait.waiters.Load() == 0 { // past its lull and its spin
		if ctx.Err() != nil {
			t.Fatal("Read on an empty ring never parked")
		}
		runtime.Gosched()
	}
	if err := p.Write(ctx, []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("streaming Read of a lone record: %v", err)
	}
	if c.c.streaming {
		t.Fatal("a read that waited left its consumer streaming")
	}
}

// streamingPair returns an MPSC ring pair of 4 KiB (room for lullPays
// records the lull hook writes) whose consumer is streaming: it read three
// records, each found at once.
func streamingPair(t *testing.T) (p, c *vring, buf []byte) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<16)
	r, q := handlePair(t,
		func() (*MPSC, error) { return NewMPSC(seg, "r", 4096) },
		func() (*MPSC, error) { return OpenMPSC(seg, "r") })
	p, c = &r.vring, &q.vring
	ctx := ctxForTest(t)
	buf = make([]byte, 8)
	for i := range 3 {
		if err := p.Write(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := c.Read(ctx, buf); err != nil {
			t.Fatal(err)
		}
	}
	if !c.c.streaming {
		t.Fatal("reads that found their records at once: not streaming")
	}
	return p, c, buf
}

// setLullHook sets lullHook for the test.
func setLullHook(t *testing.T, f func(time.Duration)) {
	lullHook = f
	t.Cleanup(func() { lullHook = nil })
}

// TestLullNotForDoneContext: a streaming consumer's Read with a context
// already done returns its error without a lull (it spun the lull first,
// 20 µs, before the wait that returns at once for a done context), and the
// read that failed leaves the consumer not streaming (it stayed so, and
// every later Read lulled again: a loop of Reads under a done context spun
// 20 µs a call).
func TestLullNotForDoneContext(t *testing.T) {
	_, c, buf := streamingPair(t)
	lulls := 0
	setLullHook(t, func(time.Duration) { lulls++ })
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Read(done, buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read under a done context = %v, want context.Canceled", err)
	}
	if lulls != 0 {
		t.Errorf("Read under a done context lulled %d times", lulls)
	}
	if c.c.streaming {
		t.Error("a Read that failed left its consumer streaming")
	}
}

// TestLullAdapts: a lull doubles, up to streamLull, after one that found a
// run of lullPays records or more, and halves, down to minLull, after one
// that found fewer: a stream paced at a record every few µs, which finds a
// record or two after each lull, is not held back streamLull on each (a
// fixed 20 µs took its p50 from 276 ns to 10.8 µs). Each lull here (the
// hook, on the reading goroutine) writes the run the next look finds.
func TestLullAdapts(t *testing.T) {
	p, c, buf := streamingPair(t)
	ctx := ctxForTest(t)
	var lens []time.Duration
	run := 0
	setLullHook(t, func(d time.Duration) {
		lens = append(lens, d)
		for i := range run {
			if err := p.Write(ctx, []byte{byte(i)}); err != nil {
				t.Error(err)
			}
		}
	})
	// readRun reads n records; the first lulls (the ring is empty and
	// the consumer streaming), the hook writing n.
	readRun := func(n int) {
		t.Helper()
		run = n
		for range n {
			if _, err := c.Read(ctx, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := minLull
	for range 6 { // long runs: 2, 4, 8, 16, 20, 20 µs
		readRun(lullPays)
		if got := lens[len(lens)-1]; got != want {
			t.Fatalf("lull %d after runs of %d: %v, want %v (all: %v)", len(lens), lullPays, got, want, lens)
		}
		want = min(2*want, streamLull)
	}
	want = streamLull
	for range 6 { // short runs: 20, 10, 5, 2.5, 2, 2 µs
		readRun(1)
		if got := lens[len(lens)-1]; got != want {
			t.Fatalf("lull %d after runs of 1: %v, want %v (all: %v)", len(lens), got, want, lens)
		}
		want = max(want/2, minLull)
	}
}
