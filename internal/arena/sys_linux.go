//go:build linux

package arena

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// populate reserves and maps the pages of b (MADV_POPULATE_WRITE, Linux
// 5.14): on a full tmpfs it fails (EFAULT: the write would be a SIGBUS;
// ENOMEM; ENOSPC) where a plain write would kill the process.
func populate(b []byte) error {
	err := unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	for err == unix.EINTR || err == unix.EAGAIN {
		err = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
	switch err {
	case nil:
		return nil
	case unix.EFAULT, unix.ENOMEM, unix.ENOSPC:
		return fmt.Errorf("%w: %d bytes of arena pages: %w", ErrNoSpace, len(b), os.NewSyscallError("madvise", err))
	}
	return os.NewSyscallError("madvise", err)
}

// unpopulate gives the pages of b back to the system (MADV_REMOVE punches
// a hole in the tmpfs file: the memory is freed for every process mapping
// it, and the pages read as zero). A failure leaves them reserved, which
// costs memory, not correctness.
func unpopulate(b []byte) { _ = unix.Madvise(b, unix.MADV_REMOVE) }
