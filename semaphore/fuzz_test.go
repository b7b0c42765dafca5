package semaphore_test

import (
	"strings"
	"testing"

	"github.com/shmkit/shmkit/semaphore"
)

// FuzzAt: whatever a peer left in the memory, opening a primitive on it and
// its non-blocking calls either work or fail with an error (or a
// "semaphore: " misuse panic); they never read out of bounds.
func FuzzAt(f *testing.F) {
	f.Add(make([]byte, semaphore.RWMutexSize))
	good := make([]byte, semaphore.RWMutexSize)
	semaphore.InitRWMutex(good)
	f.Add(good)
	for _, init := range []func([]byte){
		func(b []byte) { semaphore.InitMutex(b) },
		func(b []byte) { semaphore.InitSemaphore(b, 3, true) },
		func(b []byte) { semaphore.InitEvent(b) },
		func(b []byte) { semaphore.InitCond(b) },
		func(b []byte) { semaphore.InitBarrier(b, 3) },
	} {
		b := make([]byte, semaphore.RWMutexSize)
		init(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := make([]byte, semaphore.RWMutexSize) // 8-aligned heap block
		copy(mem, data)
		mem = mem[:min(len(data), len(mem))]
		defer func() {
			if r := recover(); r != nil {
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "semaphore: ") {
					t.Fatalf("panic %v", r)
				}
			}
		}()
		if m, err := semaphore.MutexAt(mem); err == nil {
			if ok, _ := m.TryLock(); ok {
				m.Unlock()
			}
			_ = m.Owner()
		}
		if s, err := semaphore.SemaphoreAt(mem); err == nil {
			if s.TryAcquire(1) {
				_ = s.Release(1)
			}
			_ = s.Value()
		}
		if e, err := semaphore.EventAt(mem); err == nil {
			_ = e.IsSet()
		}
		if c, err := semaphore.CondAt(mem); err == nil {
			c.Signal()
		}
		if b, err := semaphore.BarrierAt(mem); err == nil {
			_, _ = b.Waiting(), b.Broken()
		}
		if rw, err := semaphore.RWMutexAt(mem); err == nil {
			if rw.TryRLock() {
				rw.RUnlock()
			}
		}
	})
}
