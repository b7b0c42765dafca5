//go:build !amd64

package goid

// G returns 0: the goroutine's descriptor is not wired up here (see
// HasG), and callers take their general path.
func G() uintptr { return 0 }

// HasG reports whether G tells goroutines apart on this architecture.
const HasG = false
