//go:build !amd64

package prefetch

import "unsafe"

// Lines and Write are no-ops where no prefetch
// instruction is wired up.
func Lines(p unsafe.Pointer, n int) {}
func Write(p unsafe.Pointer, n int) {}
