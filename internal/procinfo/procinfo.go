//go:build linux

// Package procinfo identifies processes in a way that survives PID reuse.
//
// A process is named by its PID together with its start time (field 22 of
// /proc/PID/stat, in clock ticks since boot). A PID that is reused by a later
// process has a different start time, so an Ident recorded in shared memory
// never mistakes the newcomer for the process that wrote it.
package procinfo

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
)

// Ident names one process for its whole life: PID plus start time.
// The zero Ident names no process.
type Ident struct {
	Pid   int32
	Start uint64 // clock ticks since boot, from /proc/PID/stat field 22
}

// IsZero reports whether id names no process.
func (id Ident) IsZero() bool { return id.Pid == 0 }

// Word packs id into one 64-bit word, for an owner field that must change
// in one CAS: PID in the high half, the low 32 bits of the start time in the
// low half. The low half alone still tells a reused PID apart unless the two
// processes started exactly 2^32 ticks (about 16 months at 100 Hz) apart.
// The zero word names no process.
func (id Ident) Word() uint64 { return uint64(uint32(id.Pid))<<32 | uint64(uint32(id.Start)) }

// FromWord is the inverse of Word; Start keeps its low 32 bits only.
func FromWord(w uint64) Ident { return Ident{Pid: int32(w>>32) & 0x7fffffff, Start: uint64(uint32(w))} }

// HandoffWord marks w as a stand-in (interim form; see package handoff).
func HandoffWord(w uint64) uint64 { return w | 1<<63 }

// IsHandoff reports whether w is a stand-in.
func IsHandoff(w uint64) bool { return w>>63 != 0 }

var (
	selfOnce sync.Once
	self     Ident
)

// Self returns the Ident of the calling process, read once and cached.
func Self() Ident {
	selfOnce.Do(func() {
		pid := os.Getpid()
		st, _, err := stat(pid)
		if err != nil {
			st = 0 // no /proc: PID-only identity, reuse goes undetected
		}
		self = Ident{Pid: int32(pid), Start: st}
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

// Alive reports whether the process named by id is still running. Zombies
// count as dead: they hold nothing any more. A zero Ident is never alive.
// When id.Start is zero (unknown) only the PID is checked.
func Alive(id Ident) bool { return alive(id, ^uint64(0)) }

// AliveWord reports whether the process packed into w by Ident.Word is still
// running, comparing the low 32 bits of the start time.
func AliveWord(w uint64) bool { return alive(FromWord(w), 1<<32-1) }

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
		return !errors.Is(err, ErrNoProcess) && processExists(int(id.Pid))
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return id.Start == 0 || st&mask == id.Start&mask
}

// stat reads the start time and state letter of process pid.
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
	return parseStat(b)
}

// parseStat extracts the state (field 3) and start time (field 22) from the
// contents of /proc/PID/stat. Field 2 (comm) is in parentheses and may hold
// spaces and ')', so the scan starts after the last ')'.
func parseStat(b []byte) (start uint64, state byte, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("procinfo: malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) == 0 {
		return 0, 0, errors.New("procinfo: short stat")
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return start, f[0][0], err
}
