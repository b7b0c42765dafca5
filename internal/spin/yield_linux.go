//go:build linux

package spin

import "golang.org/x/sys/unix"

// Yield gives the CPU to another runnable thread, if one waits for it
// (sched_yield); on an idle CPU it returns at once.
//
// It is a raw system call, as the runtime's own osyield: sched_yield does
// not block, and the runtime's bookkeeping around a system call
// (entersyscall, exitsyscall) made each look of a yielding waiter dearer
// for the thread it waited for. Two threads handing a 1 MiB buffer to and
// fro through a flag, each yielding while it waits, took 52-62 µs a round
// trip through unix.Syscall against 45-48 µs without yielding and 46-47 µs
// through unix.RawSyscall; the pipe's 1 MiB request/response went from
// 68-71 to 58-63 µs. The cost: while the kernel runs somebody else, the
// goroutine's P waits with it rather than being handed to another thread;
// the yielding is bounded in time (MaxYielding).
func Yield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
