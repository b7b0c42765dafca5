//go:build linux

package spin

import "golang.org/x/sys/unix"

// Yield gives the CPU to another runnable thread, if one waits for it
// (sched_yield); on an idle CPU it returns at once. It is for spins whose
// yielding is bounded in time (Spin's, by MaxYielding).
//
// It is a raw system call, as the runtime's own osyield: sched_yield waits
// for nothing but the CPU, and the runtime's bookkeeping around a system
// call (entersyscall, exitsyscall) made a yielding waiter's looks dearer
// to the thread it waited for. memcopy's BenchmarkHandOver (two threads
// handing 1 MiB to and fro, copy=pieces), 4 runs: 51-55 µs a round trip
// yielding through unix.Syscall, 47 through unix.RawSyscall, 49-52 not
// yielding; the pipe's 1 MiB request/response went from 68-71 to 58-63
// µs. The cost: while the kernel runs somebody else (a loaded machine),
// the goroutine's P waits with it instead of being handed to another
// thread, for that one yield. Beside 8 busy loops on 2 cores, the pipe's
// 64-byte ping-pong (7 pairs of runs) had the same p50 either way, and
// its mean and p99 depended on which run of a pair came first, not on
// the yield.
func Yield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// YieldToRuntime is Yield through the runtime's system call path, so that
// while the kernel runs somebody else the runtime may hand the goroutine's
// P to another thread: for a loop that yields for as long as it has work
// in sight (the manager's poller), which MaxYielding does not bound.
func YieldToRuntime() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
