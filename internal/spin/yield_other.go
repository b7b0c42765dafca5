//go:build !linux

package spin

import "runtime"

// Yield lets other goroutines run (see yield_linux.go).
func Yield() { runtime.Gosched() }

// YieldToRuntime lets other goroutines run (see yield_linux.go).
func YieldToRuntime() { runtime.Gosched() }
