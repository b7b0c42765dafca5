//go:build amd64

package ringbuf

// getg returns the address of the running goroutine's runtime record (its
// g): the same for as long as the goroutine lives, never another live
// goroutine's, never 0. It tells a handle lock's owner apart from other
// goroutines in about a nanosecond (see handleLock's bias).
func getg() uintptr
