//go:build linux

package shm

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultDir is where named segments live: the directory behind shm_open.
const DefaultDir = "/dev/shm"

// createFile makes the file of a new segment at path and reserves size
// bytes with fallocate; publish gives it the name once the caller has
// written its header. The file is made unnamed (O_TMPFILE) in path's
// directory and linked under the name only then, which fails if the name
// is taken (EEXIST, as O_CREAT|O_EXCL; a link at the name is not
// followed, as O_NOFOLLOW): a creator killed before publish leaves
// nothing in the directory. Made under its name from the start, a file
// whose creator died before its header was written had no magic, so
// that List and Collect (shmkit gc) took it for no segment of theirs and
// it stayed for good (TestCreatorKilledLeavesNothing). Where the file
// system has no O_TMPFILE (or /proc is not mounted, through which the
// link goes), the file is made under its name with
// O_CREAT|O_EXCL|O_NOFOLLOW as before, and publish is nil: the caller
// unlinks the name if it fails later. On an error the file is closed and
// nothing is left under the name.
func createFile(path string, size, total int64, mode os.FileMode) (f *os.File, publish func() error, err error) {
	// The name is checked first so that a taken name fails before any
	// memory is reserved; the link is what decides.
	if err := unix.Lstat(path, new(unix.Stat_t)); err == nil {
		return nil, nil, wrap(ErrExist, &os.PathError{Op: "create", Path: path, Err: unix.EEXIST})
	}
	named := !procFDs() // no unnamed file that linkFile could not name
	fd, err := -1, error(nil)
	if !named {
		fd, err = unix.Open(filepath.Dir(path), unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(mode.Perm()))
		named = err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL // no O_TMPFILE here
	}
	if named {
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	}
	if err != nil {
		return nil, nil, createError(path, err)
	}
	// umask may have narrowed the mode; the caller asked for exactly it.
	_ = unix.Fchmod(fd, uint32(mode.Perm()))
	f = os.NewFile(uintptr(fd), path)
	if err := reserve(f, size, total); err != nil {
		f.Close()
		if named {
			unix.Unlink(path)
		}
		return nil, nil, err
	}
	if named {
		return f, nil, nil
	}
	return f, func() error { return linkFile(fd, path) }, nil
}

// createError is the error of making path failing with err.
func createError(path string, err error) error {
	pe := &os.PathError{Op: "create", Path: path, Err: err}
	switch err {
	case unix.EEXIST:
		return wrap(ErrExist, pe)
	case unix.ENOSPC:
		return wrap(ErrNoSpace, pe)
	}
	return pe
}

// linkFile gives the unnamed file fd (O_TMPFILE) the name path, failing
// with ErrExist if the name is taken. It links through /proc/self/fd,
// which needs no privilege (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH);
// createFile makes no unnamed file where /proc is not mounted.
func linkFile(fd int, path string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return createError(path, err)
	}
	return nil
}

// procFDs reports whether /proc/self/fd is there for linkFile.
var procFDs = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

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
