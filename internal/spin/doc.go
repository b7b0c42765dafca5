// Package spin is the waiting policy every blocking call of shmkit runs
// before it parks on a futex: the rings' waits (package ringbuf), the
// events that queues and pipes wait on (internal/notify), and through them
// Put, Get, Send, Recv and the rest.
//
// A waiter looks at its condition with a probe that costs one or two
// loads, pausing between looks (Relax) so that it takes the line the
// other side writes only once per pause, not after every store. How long
// it looks before it parks is learnt per waiter (Adaptive): a waiter woken
// after gaps that a longer spin would have covered spins longer next time,
// up to MaxGrowth times its base; one that waited for longer gaps goes back
// to the base. The policy is the one the rings measured first (a futex wake
// costs the waker microseconds on a VM, a parked ping-pong pays a sleep and
// a wake per message); here it serves every blocking call alike.
//
// A waiter that yields (Yielding) watches its yields too: when its waits
// keep ending just after a sched_yield that gave the CPU to another
// thread, it and its peer most likely share one CPU, and it parks once,
// which the kernel's wake may end on an idle one (see YieldAway).
//
// Everything here is process-local: an Adaptive is a field of a handle,
// never of shared memory.
package spin
