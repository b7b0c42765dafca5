package shm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// List returns the shmkit segments in /dev/shm (or the WithDir directory),
// sorted by name. Files that are not shmkit segments are skipped; shmkit
// segments whose header does not check out are listed with Err set.
func List(opts ...Option) ([]Info, error) {
	o := makeOptions(opts)
	ents, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, ok := stat(o.dir, e.Name())
		if ok {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat reads the header of the named segment without mapping it.
func Stat(name string, opts ...Option) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	o := makeOptions(opts)
	info, ok := stat(o.dir, name)
	if !ok {
		path := filepath.Join(o.dir, name)
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return info, wrap(ErrNotExist, err)
		}
		// A file the caller may not open (another user's segment, mode
		// 0600) may well be a segment: say why it could not be read.
		// ELOOP is a link, which no segment is.
		if f, err := openStat(path); err != nil && !errors.Is(err, unix.ELOOP) {
			return info, &os.PathError{Op: "open", Path: path, Err: err}
		} else if err == nil {
			f.Close()
		}
		return info, fmt.Errorf("%w: %s is not a shmkit segment", ErrIncompatible, path)
	}
	return info, info.Err
}

// stat reads one file's header with pread. ok is false when the file is not
// a shmkit segment at all.
func stat(dir, name string) (info Info, ok bool) {
	path := filepath.Join(dir, name)
	f, err := openStat(path)
	if err != nil {
		return Info{Name: name, Path: path}, false
	}
	defer f.Close()
	return statFile(f, name, path)
}

// openStat opens path to read its header: never through a link, never
// blocking (a FIFO).
func openStat(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// statFile is stat of the open file f.
func statFile(f *os.File, name, path string) (info Info, ok bool) {
	info = Info{Name: name, Path: path}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return info, false
	}
	var b [headerSize]byte
	n, _ := readHeader(f, &b)
	if n < len(segMagic) || string(b[:len(segMagic)]) != segMagic {
		return info, false
	}
	h, err := decodeHeader(b[:n], fi.Size())
	if err != nil {
		info.Size, info.Err = fi.Size(), err
		return info, true
	}
	return infoOf(name, path, h, int(le.Uint32(b[offDirCount:]))), true
}

// Collected is Collect's account of one segment it acted on or left alone
// for a reason worth telling.
type Collected struct {
	Info
	// Removed reports that the name was unlinked (with dryRun: would be).
	Removed bool
	// Reason says why the segment was collected or left alone: "creator
	// pid 42 dead", or that its creator runs in another PID namespace.
	Reason string
	// Err is the unlink's failure (EPERM on a stranger's file, say); the
	// segment is still there.
	Err error
}

// Collect unlinks every segment whose creator has died and reports, one
// Collected each, the segments it removed, those it failed to remove (Err
// set) and those it left alone because their creator runs in another PID
// namespace (another container), where it cannot tell whether the creator
// still runs. With dryRun it removes nothing and reports what it would do.
// Segments of live creators and segments whose header does not check out
// are not reported. One failed unlink does not stop the others: the error
// returned joins every failure, and each stays in its Collected too.
// Segments in use by other live processes stay mapped there: Collect
// removes names, never memory. It unlinks the file whose header it read:
// a name that another file has taken since (a segment made anew under it)
// is left alone and reported so, Removed false.
func Collect(dryRun bool, opts ...Option) ([]Collected, error) {
	o := makeOptions(opts)
	ents, err := os.ReadDir(o.dir) // sorted by name, as List's
	if err != nil {
		return nil, err
	}
	var out []Collected
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if c, ok := collect(o.dir, e.Name(), dryRun); ok {
			if c.Err != nil {
				errs = append(errs, c.Err)
			}
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

// collect judges one file, and unlinks it if its creator is dead; ok
// reports whether Collect reports it. It keeps the file open from the
// header's read to the unlink, so that the inode it judged cannot be freed
// and its number given to a file made under the name meanwhile, and it
// unlinks the name only if the name still has that inode. (It unlinked by
// name: a segment made under the name after the read went instead.)
func collect(dir, name string, dryRun bool) (c Collected, ok bool) {
	path := filepath.Join(dir, name)
	f, err := openStat(path)
	if err != nil {
		return c, false
	}
	defer f.Close()
	info, ok := statFile(f, name, path)
	switch {
	case !ok || info.Err != nil:
		return c, false
	case info.CreatorElsewhere:
		return Collected{Info: info, Reason: fmt.Sprintf(
			"creator pid %d runs in another PID namespace (%d): cannot tell from here whether it still runs",
			info.CreatorPID, info.CreatorNS)}, true
	case info.CreatorAlive:
		return c, false
	}
	c = Collected{Info: info, Removed: true, Reason: fmt.Sprintf("creator pid %d dead", info.CreatorPID)}
	if dryRun {
		return c, true
	}
	collectUnlink(path)
	replaced, err := unlinkInode(path, inode(f))
	switch {
	case replaced:
		c.Removed = false
		c.Reason += ", but another file has taken its name since"
	case err != nil && !errors.Is(err, ErrNotExist):
		c.Removed, c.Err = false, err
	}
	return c, true
}

// collectUnlink runs just before collect checks the name's inode and
// unlinks it: a test replaces the file there.
var collectUnlink = func(string) {}
