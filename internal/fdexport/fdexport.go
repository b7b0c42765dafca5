// Package fdexport carries anonymous segments' descriptors to a child
// process: package process runs the encoding of a child's arguments inside
// Run, and package shm's Segment.Handle asks Current for the descriptor
// number an anonymous segment's file will have in the child. Under
// RunInPlace instead, a handle names the descriptor in this process, for
// a running child of the same user to open through /proc (package pool's
// MapShared, whose workers are running already).
package fdexport

import (
	"os"
	"sync"
	"sync/atomic"
)

var (
	mu sync.Mutex                         // serialises Run
	fn atomic.Pointer[func(*os.File) int] // the exporter while Run runs
)

// Run runs encode while export is installed: meanwhile, Current returns
// export, which records a file to pass on and says the descriptor number
// it will have in the receiving process. Calls are serialised.
func Run(export func(*os.File) int, encode func() error) error {
	mu.Lock()
	defer mu.Unlock()
	fn.Store(&export)
	defer fn.Store(nil)
	return encode()
}

// RunInPlace runs encode while InPlace reports true. Calls are serialised
// with Run's.
func RunInPlace(encode func() error) error {
	mu.Lock()
	defer mu.Unlock()
	inPlace.Store(true)
	defer inPlace.Store(false)
	return encode()
}

var inPlace atomic.Bool

// InPlace reports whether RunInPlace is running: a handle of an anonymous
// segment then names this process's own descriptor.
func InPlace() bool { return inPlace.Load() }

// Current returns the exporter Run installed, or nil outside Run.
func Current() func(*os.File) int {
	if p := fn.Load(); p != nil {
		return *p
	}
	return nil
}
