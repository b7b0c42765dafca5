//go:build linux

package procinfo

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// processExists asks the kernel with kill(pid, 0): EPERM means it exists but
// belongs to someone else.
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}

// namespace returns the inode of /proc/<who>/ns/pid ("self" or a PID).
func namespace(who string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+who+"/ns/pid", &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return 0, ErrNoProcess
		}
		return 0, &os.PathError{Op: "stat", Path: "/proc/" + who + "/ns/pid", Err: err}
	}
	return st.Ino, nil
}
