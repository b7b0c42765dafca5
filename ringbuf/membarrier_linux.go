//go:build linux

package ringbuf

import (
	"sync"

	"golang.org/x/sys/unix"
)

// membarrier(2) commands (linux/membarrier.h; x/sys/unix has the syscall
// number, not these).
const (
	membarrierCmdQuery                    = 0
	membarrierCmdGlobal                   = 1 << 0
	membarrierCmdPrivateExpedited         = 1 << 3
	membarrierCmdRegisterPrivateExpedited = 1 << 4
)

var (
	membarrierQuery sync.Once
	membarrierOK    bool // the kernel has the private expedited command (and the global one)
	membarrierReg   sync.Once
	membarrierPriv  bool // this process registered for it
)

// membarrierReady reports whether membarrier may be called: false on a
// kernel without its private expedited command (before 4.14) or where a
// seccomp filter refuses the call, and then no handle lock is biased. The
// first time it reports true it registers the process for the command in
// a goroutine of its own: registering a process that runs several threads
// waits for a grace period (6-14 ms here), which the first Lock of a
// process should not wait for, and a revocation rarely comes that soon
// (if it does, it waits for the registration).
func membarrierReady() bool {
	membarrierQuery.Do(func() {
		cmds, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdQuery, 0, 0)
		membarrierOK = errno == 0 && cmds&(membarrierCmdPrivateExpedited|membarrierCmdGlobal) == membarrierCmdPrivateExpedited|membarrierCmdGlobal
		if membarrierOK {
			go membarrierReg.Do(membarrierRegister)
		}
	})
	return membarrierOK
}

func membarrierRegister() {
	_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdRegisterPrivateExpedited, 0, 0)
	membarrierPriv = errno == 0
}

// membarrier makes every running thread of this process execute a full
// memory barrier before it returns (threads not running pass one when
// they are switched back in). Only after membarrierReady reported true.
// Without the registration (refused), it falls back on the global
// command, which needs none and waits for a grace period instead: slower,
// as strong.
func membarrier() {
	membarrierReg.Do(membarrierRegister)
	if membarrierPriv {
		if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdPrivateExpedited, 0, 0); errno == 0 {
			return
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		// The query said the kernel has it: a revocation that went on
		// without a barrier could let two goroutines hold a handle lock
		// at once.
		panic("ringbuf: membarrier: " + errno.Error())
	}
}
