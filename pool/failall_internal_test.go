package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// failAllRing returns a worker's state writing its results, records of at
// most maxRecord bytes, to a ring of capacity bytes, and the ring's
// consumer side (this process is both).
func failAllRing(t *testing.T, capacity, maxRecord int) (*workerState, *ringbuf.SPSC) {
	t.Helper()
	seg, err := shm.CreateAnon(int64(capacity) + 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close() })
	r, err := ringbuf.NewSPSC(seg, "results", capacity)
	if err == nil {
		err = r.AttachProducer()
	}
	if err == nil {
		err = r.AttachConsumer()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &workerState{results: r, maxRecord: maxRecord}, r
}

// TestFailAllCount: answering every task of a chunk with one error (a
// function the worker does not register, a MapShared chunk whose arrays
// it cannot attach) costs the worker about a record's memory whatever the
// count, which comes from the task record's header and, for MapShared, is
// not bounded by the payload; before, it made a failure per task first
// (235 MB for a count of 2^22, 240 GB for 2^32-1). What it writes is
// byte for byte what writeItems writes for the same failures.
func TestFailAllCount(t *testing.T) {
	const maxRecord = 1 << 12
	msg := fmt.Sprintf("%v: id %#x (the worker's program differs from the pool's?)", ErrNotRegistered, uint64(0xdeadbeef))
	ctx := context.Background()

	const n = 1000
	ws, got := failAllRing(t, 1<<18, maxRecord)
	if err := ws.failAll(ctx, 7, n, itemNotRegistered, msg); err != nil {
		t.Fatal(err)
	}
	ref, want := failAllRing(t, 1<<18, maxRecord)
	fails := make([]itemFailure, n)
	for i := range fails {
		fails[i] = itemFailure{i: i, status: itemNotRegistered, msg: msg}
	}
	if err := ref.writeItems(ctx, 7, n, fails, nil); err != nil {
		t.Fatal(err)
	}
	records, tasks := 0, 0
	for {
		a, aok, err := got.TryPeek()
		if err != nil {
			t.Fatal(err)
		}
		b, bok, err := want.TryPeek()
		if err != nil {
			t.Fatal(err)
		}
		if aok != bok || !bytes.Equal(a, b) {
			t.Fatalf("record %d: failAll wrote %d bytes (%v), writeItems %d (%v)", records, len(a), aok, len(b), bok)
		}
		if !aok {
			break
		}
		h, _ := readHeader(a)
		if h.kind != resItems || h.seq != 7 || int(h.word) != tasks {
			t.Fatalf("record %d: header %+v after %d tasks", records, h, tasks)
		}
		payload := a[hdrSize:]
		for range h.count {
			st, p, rest, err := nextItem(payload)
			if err != nil || st != itemNotRegistered || string(p) != msg {
				t.Fatalf("record %d: item %d, %q, %v", records, st, p, err)
			}
			payload = rest
		}
		records++
		tasks += int(h.count)
		got.Discard()
		want.Discard()
	}
	if tasks != n || records < 2 {
		t.Fatalf("%d tasks answered in %d records, want %d in several", tasks, records, n)
	}

	// A count far past what a ring holds: the worker writes until the ring
	// is full and its wait for room ends with ctx.
	const big = 1 << 22
	ws, r := failAllRing(t, 1<<16, maxRecord)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := ws.failAll(cctx, 7, big, itemNotRegistered, msg)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("failAll of %d tasks into a full ring: %v", big, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("failAll of %d tasks allocated %d bytes", big, grew)
	}
	rec, ok, err := r.TryPeek()
	if err != nil || !ok {
		t.Fatalf("no first record: %v", err)
	}
	if h, _ := readHeader(rec); h.kind != resItems || h.word != 0 || h.count == 0 {
		t.Fatalf("first record: %+v", h)
	}
}
