//go:build linux

package shm

import (
	"os"

	"golang.org/x/sys/unix"
)

// DefaultDir is where named segments live: the directory behind shm_open.
const DefaultDir = "/dev/shm"

// createFile makes a new file with O_CREAT|O_EXCL|O_NOFOLLOW and reserves
// size bytes with fallocate. On ENOSPC it removes the file again.
func createFile(path string, size, total int64, mode os.FileMode) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		pe := &os.PathError{Op: "create", Path: path, Err: err}
		if err == unix.EEXIST {
			return nil, wrap(ErrExist, pe)
		}
		if err == unix.ENOSPC {
			return nil, wrap(ErrNoSpace, pe)
		}
		return nil, pe
	}
	// umask may have narrowed the mode; the caller asked for exactly it.
	_ = unix.Fchmod(fd, uint32(mode.Perm()))
	f := os.NewFile(uintptr(fd), path)
	if err := reserve(f, size, total); err != nil {
		f.Close()
		unix.Unlink(path)
		return nil, err
	}
	return f, nil
}

// reserve allocates every page of f up to size, so that a full file system
// fails here and not with SIGBUS on a later write, and extends f to total
// bytes without reserving the rest (a sparse tail: see WithSparse).
func reserve(f *os.File, size, total int64) error {
	if total > size {
		if err := unix.Ftruncate(int(f.Fd()), total); err != nil {
			pe := &os.PathError{Op: "ftruncate", Path: f.Name(), Err: err}
			if err == unix.ENOSPC || err == unix.EFBIG {
				return wrap(ErrNoSpace, pe)
			}
			return pe
		}
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	for err == unix.EINTR {
		err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	}
	if err != nil {
		pe := &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
		if err == unix.ENOSPC || err == unix.EFBIG {
			return wrap(ErrNoSpace, pe)
		}
		return pe
	}
	return nil
}

// openFile opens an existing segment file read-write (or read-only) without
// following links. O_NONBLOCK because anyone may put a FIFO in /dev/shm
// under a segment's name, and a read-only open of a FIFO waits for a writer
// for ever; mapExisting then refuses what is not a regular file (on which
// O_NONBLOCK changes nothing). O_NOCTTY for a terminal device put there.
func openFile(path string, readOnly bool) (*os.File, error) {
	mode := unix.O_RDWR
	if readOnly {
		mode = unix.O_RDONLY
	}
	fd, err := unix.Open(path, mode|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		pe := &os.PathError{Op: "open", Path: path, Err: err}
		if err == unix.ENOENT {
			return nil, wrap(ErrNotExist, pe)
		}
		if err == unix.ELOOP {
			return nil, wrap(ErrInvalidName, pe)
		}
		return nil, pe
	}
	return os.NewFile(uintptr(fd), path), nil
}

// memfd makes an anonymous memory file whose size sealSize can seal.
func memfd(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// sealSize fixes the size of memfd f for good: no process that holds it
// (a child it was passed to, say) can shrink it, which would make every
// mapping of it fault (SIGBUS) past the new end, or grow it.
func sealSize(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL)
	if err != nil {
		return &os.PathError{Op: "seal", Path: f.Name(), Err: err}
	}
	return nil
}

func unlinkFile(path string) error {
	if err := unix.Unlink(path); err != nil {
		pe := &os.PathError{Op: "unlink", Path: path, Err: err}
		if err == unix.ENOENT {
			return wrap(ErrNotExist, pe)
		}
		return pe
	}
	return nil
}

// unlinkInode unlinks path if it still names the file of inode ino (which
// the caller holds open, so that the number is not reused); replaced
// reports that it names another. Linux has no unlink-if-inode: a file made
// under the name between the lstat and the unlink, two system calls apart,
// after someone else unlinked the first, is unlinked all the same.
func unlinkInode(path string, ino uint64) (replaced bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		pe := &os.PathError{Op: "lstat", Path: path, Err: err}
		if err == unix.ENOENT {
			return false, wrap(ErrNotExist, pe)
		}
		return false, pe
	}
	if st.Ino != ino {
		return true, nil
	}
	return false, unlinkFile(path)
}

// inode returns f's inode, 0 if fstat fails.
func inode(f *os.File) uint64 {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return 0
	}
	return st.Ino
}
