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
// not hold a thousand OS threads. Every Await honours a context, and a
// cancel wakes its own sleeper only, not every sleeper on the word in
// every process: with futex_waitv (Linux 5.16+) the sleeper also waits on a
// private word of its own, which the cancel wakes; without it, its waits
// are FUTEX_WAIT_BITSET of a bit of its process (1 << pid%32), which the
// cancel wakes with FUTEX_WAKE_BITSET, so that only processes whose PIDs
// agree modulo 32 still wake each other's sleepers. (A waiter woken early
// by every other process's cancel never slept its poll period through,
// and never ran its Check: a dead lock holder went unnoticed.)
//
// Ownership: this package owns no memory. The words it hands out point into
// the caller's mapping and are valid only while that mapping is.
package atomics
