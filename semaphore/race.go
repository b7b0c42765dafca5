//go:build race

package semaphore

import (
	"sync"
	"sync/atomic"
)

// The race detector tracks memory and synchronisation in the Go heap only:
// atomics on a shared mapping order nothing as far as it can see, so
// goroutines that take turns through a shmkit lock would be reported as
// racing. In race builds every primitive mirrors its acquire and release
// edges on a Go-heap word keyed by the address of its lock word, which the
// detector does see. Normal builds compile these to nothing (norace.go).

var raceShadows sync.Map // *atomic.Uint32 (in the mapping) -> *atomic.Uint64 (in the heap)

func raceShadow(w *atomic.Uint32) *atomic.Uint64 {
	if s, ok := raceShadows.Load(w); ok {
		return s.(*atomic.Uint64)
	}
	s, _ := raceShadows.LoadOrStore(w, new(atomic.Uint64))
	return s.(*atomic.Uint64)
}

// raceAcquire: what was released on w before happens before what follows.
func raceAcquire(w *atomic.Uint32) { raceShadow(w).Load() }

// raceRelease: what came before happens before a later raceAcquire on w.
func raceRelease(w *atomic.Uint32) { raceShadow(w).Add(1) }
