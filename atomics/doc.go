// Package atomics provides the two things every shmkit object is built from:
// futex wait/wake on words that live in shared memory, and typed atomic words
// at checked offsets of a mapping.
//
// Scope: Linux only. The futexes are shared (FUTEX_PRIVATE_FLAG is never
// set): the waiters live in other processes, and the kernel keys the wait
// queue on the backing page, not on this process's address space.
//
// Blocking: Wait parks the calling OS thread in the kernel. Await is what the
// other packages use: it spins briefly, then parks the goroutine on a Go
// channel while one sleeper goroutine per process per word waits in the
// kernel on behalf of all of them, so that a thousand parked goroutines do
// not hold a thousand OS threads. Every Await honours a context.
//
// Ownership: this package owns no memory. The words it hands out point into
// the caller's mapping and are valid only while that mapping is.
package atomics
