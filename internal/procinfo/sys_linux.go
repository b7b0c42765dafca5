//go:build linux

package procinfo

import "golang.org/x/sys/unix"

// processExists asks the kernel with kill(pid, 0): EPERM means it exists but
// belongs to someone else.
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
