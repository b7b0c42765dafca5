//go:build linux

package membarrier

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// membarrier(2) commands (linux/membarrier.h; x/sys/unix has the syscall
// number, not these).
const (
	cmdQuery                   = 0
	cmdGlobal                  = 1 << 0
	cmdGlobalExpedited         = 1 << 1
	cmdRegisterGlobalExpedited = 1 << 2
)

var (
	start      sync.Once
	finished   = make(chan struct{}) // closed when the registration has run, done or refused
	registered atomic.Bool           // this process is registered for the global expedited command
)

// Registered reports whether this process is registered for the global
// expedited command, so that every Fence, in any process, orders its
// threads' stores before their loads. The first call starts the
// registration in a goroutine of its own and reports false: registering
// a process that runs several threads waits for an RCU grace period (12-16
// ms here), which the first call of a hot path should not wait for. It
// stays false where the kernel lacks the command (before 4.16) or a
// seccomp filter refuses it.
func Registered() bool {
	return registered.Load() || begin()
}

// begin is Registered's first call, apart so that Registered inlines.
func begin() bool {
	startRegistration()
	return false
}

// startRegistration starts the registration in a goroutine of its own,
// once.
func startRegistration() { start.Do(func() { go register() }) }

// Await starts the registration if no call has, waits for it to finish,
// and reports Registered: for tests and benchmarks that must measure the
// fast side from their first call.
func Await() bool {
	startRegistration()
	<-finished
	return registered.Load()
}

// Refused reports, without waiting, whether the registration has run and
// failed: Registered will never report true in this process.
func Refused() bool {
	select {
	case <-finished:
		return !registered.Load()
	default:
		return false
	}
}

// HoldRegistration makes this process's registration, once it starts,
// wait until release is closed: for tests of a fast side's calls while it
// is under way (a registration that waits for an RCU grace period under
// load). Call it before the first call of Registered, Await or Refused.
func HoldRegistration(release <-chan struct{}) { hold = release }

var hold <-chan struct{} // see HoldRegistration

func register() {
	defer close(finished)
	if hold != nil {
		<-hold
	}
	cmds, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdQuery, 0, 0)
	if errno != 0 || cmds&(cmdGlobalExpedited|cmdRegisterGlobalExpedited) != cmdGlobalExpedited|cmdRegisterGlobalExpedited {
		return
	}
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdRegisterGlobalExpedited, 0, 0); errno == 0 {
		registered.Store(true)
	}
}

// FenceOrWait is Fence for a caller that must go on either way: where
// the fence fails, it lets a millisecond pass instead, in which any store
// waiting in a store buffer reaches memory (they drain in far less, and a
// thread switched out drains them) — sound in practice, not by contract.
func FenceOrWait() {
	if Fence() != nil {
		time.Sleep(time.Millisecond)
	}
}

// ErrUnavailable: neither of membarrier's global commands ran.
var ErrUnavailable = errors.New("membarrier: the global commands are unavailable")

// Fence makes every thread of every registered process that is running
// execute a full memory barrier before it returns (a thread not running
// passes one when it is switched back in). It falls back on the global
// command, which covers every process and waits for an RCU grace period
// instead (milliseconds); it returns ErrUnavailable, having fenced
// nothing, where neither runs.
func Fence() error {
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdGlobalExpedited, 0, 0); errno == 0 {
		return nil
	}
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdGlobal, 0, 0); errno == 0 {
		return nil
	}
	return ErrUnavailable
}
