//go:build !amd64

package ringbuf

import "unsafe"

// prefetchLines is a no-op where no prefetch instruction is wired up.
func prefetchLines(p unsafe.Pointer, n int) {}
