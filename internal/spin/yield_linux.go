//go:build linux

package spin

import "golang.org/x/sys/unix"

// Yield gives the CPU to another runnable thread, if one waits for it
// (sched_yield); on an idle CPU it returns at once.
func Yield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
