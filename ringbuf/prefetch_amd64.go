//go:build amd64

package ringbuf

import "unsafe"

// prefetchLines hints that the n bytes from p will be read soon (PREFETCHT0
// per cache line). The caller keeps [p, p+n) inside a mapping.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, n int)
