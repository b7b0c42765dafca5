//go:build amd64

package prefetch

import "unsafe"

// Lines hints that the n bytes from p will be read soon (PREFETCHT0
// per cache line). The caller keeps [p, p+n) inside a mapping.
//
//go:noescape
func Lines(p unsafe.Pointer, n int)

// Write hints that the n bytes from p will be written soon
// (PREFETCHW per cache line: the line is fetched for ownership, so that
// the stores that follow hit it instead of waiting in the store buffer,
// where the next locked instruction would wait for them). The caller keeps
// [p, p+n) inside a mapping.
//
//go:noescape
func Write(p unsafe.Pointer, n int)
