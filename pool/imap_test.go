package pool_test

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	"github.com/shmkit/shmkit/pool"
)

// rssBytes reads this process's resident set size from /proc.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := bytes.Fields(b)
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestImapBoundedMemory streams a long input through Imap: the results come
// in order, and the resident memory stays flat (the input is generated, never
// held: Imap reads it only as fast as results are taken). 10 million items
// (about 4 s on two loaded cores), 100,000 with -short.
func TestImapBoundedMemory(t *testing.T) {
	n := int64(10_000_000)
	if testing.Short() {
		n = 100_000
	}
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	input := func(yield func(int64) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
	base := rssBytes(t)
	peak := base
	i := int64(0)
	for v, err := range pool.Imap(ctx, p, double, input, pool.Chunksize(1024)) {
		if err != nil || v != 2*i {
			t.Fatalf("result %d = %d, %v", i, v, err)
		}
		i++
		if i%(1<<16) == 0 {
			peak = max(peak, rssBytes(t))
		}
	}
	if i != n {
		t.Fatalf("%d results for %d inputs", i, n)
	}
	// The whole input would be 8 bytes an item; the chunks under way are a
	// few hundred KiB. Allow for the runtime's own growth.
	if grew := peak - base; grew > 32<<20 {
		t.Fatalf("resident memory grew by %d MiB over %d items", grew>>20, n)
	}
	t.Logf("%d items: resident memory %d MiB at the start, %d MiB at the peak", n, base>>20, peak>>20)
}

// TestImapStopEarly: a loop that breaks out withdraws the rest.
func TestImapStopEarly(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(2))
	k := 0
	for v, err := range pool.Imap(ctx, p, double, func(yield func(int64) bool) {
		for i := int64(0); ; i++ {
			if !yield(i) {
				return
			}
		}
	}) {
		if err != nil || v != 2*int64(k) {
			t.Fatalf("result %d = %d, %v", k, v, err)
		}
		if k++; k == 1000 {
			break
		}
	}
	if out, err := pool.Map(ctx, p, double, []int64{21}); err != nil || out[0] != 42 {
		t.Fatalf("after the break: %v, %v", out, err)
	}
}

// TestImapUnderWayAtClose: Close stops new calls and lets the calls under
// way finish, an Imap among them, although it submits its chunks as its
// results are read: every result comes, right, and Join returns after.
// The Imap's next submit failed with ErrClosed and it ended there, the
// results of its chunks already running dropped.
func TestImapUnderWayAtClose(t *testing.T) {
	ctx := ctxFor(t)
	p := start(t, pool.Processes(1), pool.MaxInFlight(1)) // a window of 2 chunks
	const n = 16
	seq := func(yield func(int64) bool) {
		for i := range int64(n) {
			if !yield(i) {
				return
			}
		}
	}
	got := 0
	for v, err := range pool.Imap(ctx, p, double, seq) {
		if err != nil {
			t.Fatalf("result %d: %v", got, err)
		}
		if v != 2*int64(got) {
			t.Fatalf("result %d = %d, want %d", got, v, 2*got)
		}
		if got == 0 {
			p.Close() // the Imap is under way, most of its inputs not yet submitted
		}
		got++
	}
	if got != n {
		t.Fatalf("%d results, want %d", got, n)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
}
