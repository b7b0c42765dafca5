package ringbuf

import (
	"runtime"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// One goroutine's Lock/Unlock pairs leave the lock in its first mode (the
// plain-store Unlock), and it excludes: TryLock fails while held.
func TestHandleLockOneGoroutine(t *testing.T) {
	var l handleLock
	for i := 0; i < 1000; i++ {
		l.Lock()
		if l.TryLock() {
			t.Fatal("TryLock took a held lock")
		}
		l.Unlock()
	}
	if m := l.mode.Load(); m != hlOne {
		t.Fatalf("mode %d after one goroutine's use, want %d (hlOne)", m, hlOne)
	}
	if !l.TryLock() {
		t.Fatal("TryLock of a free lock failed")
	}
	l.Unlock()
}

// Goroutines hammering one lock: no increment under it is lost, the lock
// reaches its shared mode, and no waiter is left asleep (the test would
// hang: every goroutine must finish). A plain counter, so that -race
// reports a broken exclusion. The test holds the lock until a goroutine
// has found it held, so that contention is certain.
func TestHandleLockHammer(t *testing.T) {
	const goroutines = 4
	n := shmtest.Iterations(t, 20000)
	var (
		l       handleLock
		counter int
		wg      sync.WaitGroup
	)
	l.Lock()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if i%7 != 0 || !l.TryLock() {
					l.Lock()
				}
				counter++
				l.Unlock()
			}
		}()
	}
	for l.mode.Load() == hlOne {
		runtime.Gosched() // until a goroutine has found the lock held
	}
	l.Unlock()
	wg.Wait()
	if counter != goroutines*n {
		t.Fatalf("counter %d, want %d: an increment was lost", counter, goroutines*n)
	}
	if m := l.mode.Load(); m != hlShared {
		t.Fatalf("mode %d after contention, want %d (hlShared)", m, hlShared)
	}
	if w := l.waiters.Load(); w != 0 {
		t.Fatalf("%d waiters left counted", w)
	}
}

func TestHandleLockUnlockUnlocked(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of a free lock did not panic")
		}
	}()
	var l handleLock
	l.Unlock()
}

// BenchmarkHandleLock: one goroutine's Lock, a 64-byte store (a message
// written under the lock), Unlock, beside sync.Mutex in the same run:
// the cost a handle used by one goroutine pays per message.
func BenchmarkHandleLock(b *testing.B) {
	var msg [64]byte
	b.Run("handleLock", func(b *testing.B) {
		var l handleLock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			l.Lock()
			msg[i&63] = byte(i)
			l.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var l sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			l.Lock()
			msg[i&63] = byte(i)
			l.Unlock()
		}
	})
}
