// Package fdexport carries anonymous segments' descriptors to a child
// process: package process runs the encoding of a child's arguments inside
// Run, and package shm's Segment.Handle asks Current for the descriptor
// number an anonymous segment's file will have in the child.
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

// Current returns the exporter Run installed, or nil outside Run.
func Current() func(*os.File) int {
	if p := fn.Load(); p != nil {
		return *p
	}
	return nil
}
