//go:build !amd64

package ringbuf

import "unsafe"

// prefetchLines and prefetchWrite are no-ops where no prefetch
// instruction is wired up.
func prefetchLines(p unsafe.Pointer, n int) {}
func prefetchWrite(p unsafe.Pointer, n int) {}
