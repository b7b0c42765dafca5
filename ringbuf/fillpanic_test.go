package ringbuf_test

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// panics runs f and reports whether it panicked.
func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// TestMPMCFuncPanicsLeaveTheRingWorking: a fill or use callback that
// panics (a codec's bug that the caller recovers) leaves the ring as a
// callback that returned would: a panicking fill's slot given up (and the
// run's messages before it delivered), a panicking use's message consumed
// and the rest of its run delivered, in order, by the handle's next Gets.
// Round the ring of 4 slots several times, so that a slot left claimed
// would hold the producers up.
func TestMPMCFuncPanicsLeaveTheRingWorking(t *testing.T) {
	seg := shmtest.Segment(t, 1<<20)
	r, err := ringbuf.NewMPMC(seg, "r", 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	boom := func([]byte) int { panic("codec bug") }
	get := func(want byte) {
		t.Helper()
		buf := make([]byte, 8)
		if n, err := r.Get(ctx, buf); err != nil || n != 1 || buf[0] != want {
			t.Fatalf("Get = %d bytes %v, %v; want [%d]", n, buf[:n], err, want)
		}
	}
	next := byte(0)
	for lap := range 4 {
		if !panics(func() { r.PutFunc(ctx, boom) }) {
			t.Fatal("PutFunc did not panic")
		}
		if !panics(func() { r.TryPutFunc(boom) }) {
			t.Fatal("TryPutFunc did not panic")
		}
		if err := r.Put(ctx, []byte{next}); err != nil {
			t.Fatalf("lap %d: Put: %v", lap, err)
		}
		get(next)
		next++
		first := next
		if !panics(func() {
			r.PutBatchFunc(ctx, 3, func(i int, slot []byte) int {
				if i == 2 {
					panic("codec bug")
				}
				slot[0] = first + byte(i)
				return 1
			})
		}) {
			t.Fatal("PutBatchFunc did not panic")
		}
		get(next)
		get(next + 1)
		next += 2
		for i := range byte(4) {
			if err := r.Put(ctx, []byte{next + i}); err != nil {
				t.Fatalf("lap %d: Put %d: %v", lap, i, err)
			}
		}
		got := []byte{}
		if !panics(func() {
			r.GetBatchFunc(ctx, 4, func(msg []byte) {
				if msg[0] == next+1 {
					panic("codec bug")
				}
				got = append(got, msg[0])
			})
		}) {
			t.Fatal("GetBatchFunc did not panic")
		}
		if len(got) != 1 || got[0] != next {
			t.Fatalf("GetBatchFunc used %v before its panic, want [%d]", got, next)
		}
		get(next + 2) // the rest of the run, in order; next+1 was consumed by the panic
		get(next + 3)
		next += 4
		if err := r.Put(ctx, []byte{next}); err != nil {
			t.Fatal(err)
		}
		if !panics(func() { r.GetFunc(ctx, func([]byte) { panic("codec bug") }) }) {
			t.Fatal("GetFunc did not panic")
		}
		next++
		if err := r.Put(ctx, []byte{next}); err != nil {
			t.Fatal(err)
		}
		if !panics(func() { r.TryGetFunc(func([]byte) { panic("codec bug") }) }) {
			t.Fatal("TryGetFunc did not panic")
		}
		next++
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}
