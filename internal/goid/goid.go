// Package goid tells goroutines apart, for the rare slow paths that must:
// a hand-off bound to the goroutine that starts a child, a lock guard that
// reports the goroutine deadlocking on itself. It reads the id from the
// header of the goroutine's own stack trace ("goroutine 18 [running]:"),
// which costs about a microsecond: never call it per message. G, the
// goroutine's runtime descriptor, tells goroutines apart in a nanosecond,
// for a hot path that only needs to know whether it runs on the goroutine
// it ran on before (a lock biased to one goroutine).
package goid

import (
	"bytes"
	"runtime"
	"strconv"
)

// ID returns the calling goroutine's id (never 0).
func ID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		if id, err := strconv.ParseUint(string(b[:i]), 10, 64); err == nil {
			return id
		}
	}
	panic("goid: cannot read the goroutine id from " + strconv.Quote(string(buf[:])))
}
