//go:build linux

package bench

import "golang.org/x/sys/unix"

// schedYield gives the calling thread's core to another runnable thread
// (sched_yield(2)); golang.org/x/sys/unix has the number but no wrapper.
func schedYield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
