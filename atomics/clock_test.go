package atomics_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
)

// errChecked is what the Check of noClockAwait returns: its sleep ended
// with its poll period, as it should.
var errChecked = errors.New("checked")

// noClockAwait refuses every clock_gettime system call that does not come
// from its vDSO (seccomp), then parks Awaits that end by their poll period:
// with futex_waitv, and without it, with and without a context that can be
// cancelled. Each sleep needs CLOCK_MONOTONIC for its absolute timeout; it
// must read it as the runtime does, without a system call.
var noClockAwait = process.Register("atomics-test-no-clock", func(ctx context.Context, _ struct{}) error {
	if err := refuseClockSyscall(); err != nil {
		return fmt.Errorf("%s: %w", noFilter, err)
	}
	var w atomic.Uint32
	o := &atomics.WaitOptions{Spin: -1, Poll: 5 * time.Millisecond, Check: func() error { return errChecked }}
	for _, noWaitv := range []bool{false, true} {
		atomics.NoWaitv(noWaitv)
		cctx, cancel := context.WithCancel(ctx)
		for _, c := range []context.Context{context.Background(), cctx} {
			if err := atomics.Await(c, &w, 0, o); err != errChecked {
				cancel()
				return fmt.Errorf("no futex_waitv %v, cancellable %v: Await = %v, want its Check's error", noWaitv, c == cctx, err)
			}
		}
		cancel()
	}
	return nil
})

// noFilter starts the error of a child that could not install its filter:
// the test skips.
const noFilter = "no seccomp filter here"

// refuseClockSyscall makes clock_gettime fail with EPERM in every thread
// of this process, unless it is made from the vDSO (its fallback where the
// clock source has no vDSO reading, which the runtime's clock may take).
func refuseClockSyscall() error {
	lo, hi, err := vdso()
	if err != nil {
		return err
	}
	arch := map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[runtime.GOARCH]
	// struct seccomp_data: nr at 0, arch at 4, instruction_pointer at 8
	// (little-endian: its low word at 8, its high word at 12). A jump's
	// target is the next instruction plus its offset.
	const allow, deny = 9, 10
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jmp := func(at int, op uint16, k uint32, jt, jf int) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: uint8(jt - at - 1), Jf: uint8(jf - at - 1)}
	}
	prog := []unix.SockFilter{
		ld(4),
		jmp(1, unix.BPF_JEQ, arch, 2, allow),
		ld(0),
		jmp(3, unix.BPF_JEQ, unix.SYS_CLOCK_GETTIME, 4, allow),
		ld(12),
		jmp(5, unix.BPF_JEQ, uint32(lo>>32), 6, deny),
		ld(8),
		jmp(7, unix.BPF_JGE, uint32(lo), 8, deny),
		jmp(8, unix.BPF_JGT, uint32(hi-1), deny, allow),
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return os.NewSyscallError("seccomp", e)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != unix.EPERM {
		return fmt.Errorf("clock_gettime under the filter: %v, want EPERM", err)
	}
	return nil
}

// vdso returns the address range of this process's [vdso] mapping.
func vdso() (lo, hi uint64, err error) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasSuffix(line, "[vdso]") {
			continue
		}
		r, _, _ := strings.Cut(line, " ")
		a, z, _ := strings.Cut(r, "-")
		lo, err1 := strconv.ParseUint(a, 16, 64)
		hi, err2 := strconv.ParseUint(z, 16, 64)
		if err := errors.Join(err1, err2); err != nil || lo>>32 != (hi-1)>>32 {
			return 0, 0, fmt.Errorf("[vdso] at %q: %v", r, err)
		}
		return lo, hi, nil
	}
	return 0, 0, errors.New("no [vdso] in /proc/self/maps")
}

// TestAwaitSleepMakesNoClockSyscall: a parked Await's sleep makes no
// system call but its futex wait. The absolute CLOCK_MONOTONIC deadline of
// FUTEX_WAIT_BITSET and futex_waitv, read with x/sys/unix's clock_gettime
// (a system call, not the vDSO), doubled the system calls of every sleep.
func TestAwaitSleepMakesNoClockSyscall(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the seccomp filter is written for amd64 and arm64")
	}
	if _, _, err := vdso(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := noClockAwait.Start(ctx, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		if strings.Contains(err.Error(), noFilter) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}
