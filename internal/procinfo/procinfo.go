//go:build linux

package procinfo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Ident names one process for its whole life: PID, start time and PID
// namespace. The zero Ident names no process.
type Ident struct {
	Pid int32
	// Start is the start time in clock ticks since boot, from
	// /proc/PID/stat field 22, as the initial time namespace sees it (the
	// caller's boot-time offset taken off); 0 if unknown.
	Start uint64
	// NS is the inode of the process's PID namespace (/proc/PID/ns/pid),
	// 0 if unknown. An Ident with NS 0 is taken for one of the caller's
	// namespace, as before namespaces were recorded.
	NS uint64
}

// IsZero reports whether id names no process.
func (id Ident) IsZero() bool { return id.Pid == 0 }

// Bits of the packed word; the package comment draws them.
const (
	handoffBit = 1 << 63
	pidShift   = 41
	pidBits    = 22
	tagShift   = 28
	tagBits    = 13
	startBits  = 28

	pidMask   = 1<<pidBits - 1
	tagMask   = 1<<tagBits - 1
	startMask = 1<<startBits - 1

	// InitNS is the inode of the initial PID namespace (PROC_PID_INIT_INO).
	InitNS = 0xEFFFFFFC
)

// NSTag returns the 13-bit tag of PID namespace inode ns that Word packs:
// 0 for the initial namespace, and for 0 (unknown: a process without /proc).
func NSTag(ns uint64) uint32 {
	if ns == 0 {
		return 0
	}
	return uint32(ns-InitNS) & tagMask
}

// Word packs id into one 64-bit word, for an owner field that must change
// in one CAS; the package comment draws the layout. The PID keeps 22 bits,
// the namespace its tag, the start time its low 28 bits. An NS of 0
// (unknown) packs as the caller's namespace. Word never sets the hand-off
// flag. The zero Ident gives the zero word.
func (id Ident) Word() uint64 {
	if id.Pid == 0 {
		return 0
	}
	ns := id.NS
	if ns == 0 {
		ns = Self().NS
	}
	return uint64(uint32(id.Pid)&pidMask)<<pidShift | uint64(NSTag(ns))<<tagShift | id.Start&startMask
}

// FromWord is the inverse of Word, the hand-off flag ignored. Start keeps
// its low 28 bits only. NS is the caller's own namespace inode when the
// word's tag is the caller's (the word cannot tell two namespaces of one
// tag apart), and otherwise InitNS + tag, the lowest inode with that tag.
func FromWord(w uint64) Ident {
	w &^= handoffBit
	if w == 0 {
		return Ident{}
	}
	tag := uint32(w>>tagShift) & tagMask
	ns := Self().NS
	if NSTag(ns) != tag {
		ns = InitNS + uint64(tag)
	}
	return Ident{Pid: int32(w >> pidShift & pidMask), Start: w & startMask, NS: ns}
}

// HandoffWord returns w with the hand-off flag (bit 63) set. The flag does
// not change who w names: AliveWord and FromWord ignore it.
func HandoffWord(w uint64) uint64 { return w | handoffBit }

// IsHandoff reports whether w has the hand-off flag set.
func IsHandoff(w uint64) bool { return w&handoffBit != 0 }

// SameNamespace reports whether id is in the caller's PID namespace (or
// its namespace is unknown), so that its PID means something here.
func SameNamespace(id Ident) bool { return id.NS == 0 || id.NS == Self().NS }

// String names id for messages: "pid 42", with its namespace when that is
// not the caller's ("pid 1 in PID namespace 4026532174").
func (id Ident) String() string {
	if SameNamespace(id) {
		return "pid " + strconv.Itoa(int(id.Pid))
	}
	return fmt.Sprintf("pid %d in PID namespace %d", id.Pid, id.NS)
}

var (
	selfOnce sync.Once
	self     Ident
)

// Self returns the Ident of the calling process, read once and cached, from
// /proc/self/stat and /proc/self/ns/pid. Without /proc it falls back to
// getpid with start time and namespace unknown: reuse then goes undetected.
func Self() Ident {
	selfOnce.Do(func() {
		self = Ident{Pid: int32(os.Getpid())}
		if b, err := os.ReadFile("/proc/self/stat"); err == nil {
			if pid, st, _, err := parseStat(b); err == nil {
				self.Pid, self.Start = int32(pid), st-bootOffset()
			}
		}
		self.NS, _ = namespace("self")
	})
	return self
}

// ErrNoProcess is returned by StartTime when no process has that PID.
var ErrNoProcess = errors.New("procinfo: no such process")

// StartTime returns the start time of process pid, in clock ticks since boot.
func StartTime(pid int) (uint64, error) {
	st, _, err := stat(pid)
	return st, err
}

// Namespace returns the PID namespace inode of process pid.
func Namespace(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, ErrNoProcess
	}
	return namespace(strconv.Itoa(pid))
}

// Alive reports whether the process named by id is still running. Zombies
// count as dead: they hold nothing any more (a process whose main thread
// alone has exited is no zombie, though /proc shows its leader as one). A zero Ident is never alive.
// When id.Start is zero (unknown) only the PID is checked, and so it is
// when /proc hides the process (hidepid) or cannot be read: a PID that
// the kernel still knows counts as alive. A process of
// another PID namespace counts as alive: its PID cannot be looked up here.
func Alive(id Ident) bool {
	if !SameNamespace(id) {
		return id.Pid != 0
	}
	return alive(id, ^uint64(0))
}

// AliveWord reports whether the process packed into w by Ident.Word is
// still running, comparing the low 28 bits of the start time. The hand-off
// flag is ignored. A word of another namespace (another tag) counts as
// alive. It reads no /proc file and allocates nothing when w names the
// caller.
func AliveWord(w uint64) bool {
	w &^= handoffBit
	if w == 0 {
		return false
	}
	if uint32(w>>tagShift)&tagMask != NSTag(Self().NS) {
		return true // another namespace: cannot judge, never dead
	}
	return alive(Ident{Pid: int32(w >> pidShift & pidMask), Start: w & startMask}, startMask)
}

func alive(id Ident, mask uint64) bool {
	if id.Pid <= 0 {
		return false
	}
	// The caller itself, the holder of a lock its other goroutines poll:
	// alive, without a read of /proc (15 µs, 9 allocations).
	if me := Self(); id.Pid == me.Pid && (id.Start == 0 || id.Start&mask == me.Start&mask) {
		return true
	}
	st, state, err := stat(int(id.Pid))
	if err != nil {
		if errors.Is(err, ErrNoProcess) && !ownProc() {
			return false
		}
		// Unreadable, or absent from /proc: with hidepid=invisible
		// (hidepid=2) another user's process has no entry at all, and
		// ENOENT alone would take it for dead. The kernel still knows
		// it: kill(pid, 0) answers ESRCH only for a PID nobody has. The
		// start time cannot be compared then; PID reuse goes unseen.
		return processExists(int(id.Pid))
	}
	if state == 'X' || state == 'Z' && !threadsLeft(int(id.Pid)) {
		return false
	}
	return id.Start == 0 || st&mask == id.Start&mask
}

var (
	offsetOnce sync.Once
	offset     uint64
)

// bootOffset returns the boot-time offset of the caller's time namespace in
// clock ticks (two's complement when negative), read once. /proc/PID/stat
// shows every start time shifted by the reader's offset (Linux 5.6+), so a
// process in a time namespace with an offset would read a start time for
// itself that no process outside it reads, and the other way round: each
// would judge the other dead. Taking the reader's own offset off every start
// time it reads gives all of them the initial namespace's clock. An offset
// that is not a whole number of ticks leaves the kernel's rounding: one tick
// in some cases, which the comparison does not forgive.
func bootOffset() uint64 {
	offsetOnce.Do(func() { offset = uint64(timensBootOffset() / nsPerTick) })
	return offset
}

// nsPerTick is one USER_HZ clock tick: 100 a second on every Linux
// architecture that shmkit builds for.
const nsPerTick = 10_000_000

// threadsLeft reports whether zombie pid still has running threads. The
// thread group leader of a process whose main thread has exited (exit(2),
// pthread_exit) shows state Z until its last thread ends, and the process
// runs on meanwhile: a dead process's /proc/PID/status counts one thread
// (its zombie leader), a live one more.
func threadsLeft(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	_, rest, ok := bytes.Cut(b, []byte("\nThreads:"))
	if !ok {
		return false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	return err == nil && n > 1
}

// ownProc reports whether /proc numbers processes as this PID namespace
// does (getpid names the caller there), so that a PID read from it means
// the same to kill. A process of a new PID namespace that kept the host's
// /proc records host PIDs, which kill would take for others.
func ownProc() bool { return Self().Pid == int32(os.Getpid()) }

// stat reads the start time (in the initial time namespace's clock, see
// bootOffset) and state letter of process pid.
func stat(pid int) (start uint64, state byte, err error) {
	if pid <= 0 {
		return 0, 0, ErrNoProcess
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, ErrNoProcess
		}
		return 0, 0, err
	}
	_, start, state, err = parseStat(b)
	return start - bootOffset(), state, err
}

// parseStat extracts the PID (field 1), state (field 3) and start time
// (field 22) from the contents of /proc/PID/stat. Field 2 (comm) is in
// parentheses and may hold spaces and ')', so the scan starts after the
// last ')'.
func parseStat(b []byte) (pid int, start uint64, state byte, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, errors.New("procinfo: malformed stat")
	}
	j := bytes.IndexByte(b, ' ')
	if j < 0 || j > i {
		return 0, 0, 0, errors.New("procinfo: malformed stat")
	}
	pid, err = strconv.Atoi(string(b[:j]))
	if err != nil {
		return 0, 0, 0, errors.New("procinfo: malformed stat pid")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) == 0 {
		return 0, 0, 0, errors.New("procinfo: short stat")
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return pid, start, f[0][0], err
}
