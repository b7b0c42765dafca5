//go:build !linux

package spin

import "runtime"

// Yield lets other goroutines run (see yield_linux.go).
func Yield() { runtime.Gosched() }
