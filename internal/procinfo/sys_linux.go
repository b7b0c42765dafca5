//go:build linux

package procinfo

import (
	"errors"
	"os"
	"strconv"
	"strings"

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

// timensBootOffset returns the boot-time offset of the caller's time
// namespace in nanoseconds, rounded down to whole ticks, from
// /proc/self/timens_offsets; 0 without time namespaces or /proc.
// timens_offsets shows the namespace the caller's children get: it is the
// caller's own only when /proc/self/ns/time and time_for_children are the
// same namespace (they differ after unshare(CLONE_NEWTIME) until a fork);
// otherwise the offset is taken as 0, as before time namespaces existed.
func timensBootOffset() int64 {
	var own, children unix.Stat_t
	if unix.Stat("/proc/self/ns/time", &own) != nil ||
		unix.Stat("/proc/self/ns/time_for_children", &children) != nil || own.Ino != children.Ino {
		return 0
	}
	b, err := os.ReadFile("/proc/self/timens_offsets")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "boottime" {
			continue
		}
		sec, err1 := strconv.ParseInt(f[1], 10, 64)
		nsec, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return 0
		}
		ns := sec*1e9 + nsec
		// Floor, not truncation: the kernel adds the offset to the start
		// time and then divides.
		ticks := ns / nsPerTick
		if ns%nsPerTick < 0 {
			ticks--
		}
		return ticks * nsPerTick
	}
	return 0
}
