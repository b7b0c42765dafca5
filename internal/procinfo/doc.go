//go:build linux

// Package procinfo identifies processes in a way that survives PID reuse
// and PID namespaces.
//
// A process is named by its PID, its start time (field 22 of
// /proc/PID/stat, in clock ticks since boot) and its PID namespace (the
// inode of /proc/PID/ns/pid). /proc shows start times shifted by the
// reader's time namespace boot-time offset; every start time here has the
// caller's offset taken off, so processes of different time namespaces
// agree on each other's start times. A PID that is reused by a later process has
// a different start time, so an Ident recorded in shared memory never
// mistakes the newcomer for the process that wrote it. A PID means nothing
// outside its namespace: PID 1 of a container is not this host's init. A
// process therefore never judges a peer of another namespace dead: Alive
// and AliveWord report it alive, since they cannot look.
//
// Self reads /proc/self/stat rather than /proc/<getpid()>/stat: a process
// in a new PID namespace that sees the host's /proc gets a namespace-local
// PID from getpid, which names another process in that /proc. The PID
// recorded is the one /proc knows the caller by, and the namespace recorded
// is the caller's own; two processes that share a namespace share its
// /proc, so each can look the other up. Where they do not (a process of a
// new namespace that kept the host's /proc records a host PID with its new
// namespace), the namespaces differ and neither judges the other: never a
// false death, at worst a dead peer that waits to be seen by a process of
// its own namespace.
//
// # The packed word
//
// Owner fields in shared memory that must change with one CAS (lock owners,
// participant slots) hold an Ident packed into 64 bits by Ident.Word:
//
//	 63  62                     41 40          28 27                     0
//	+---+-------------------------+--------------+------------------------+
//	| H |   PID (22 bits)         | NS tag (13)  | start time, low 28 bits|
//	+---+-------------------------+--------------+------------------------+
//
// H, bit 63, is the hand-off flag. Word never sets it; HandoffWord sets
// it, IsHandoff reads it. AliveWord and FromWord mask it off: a word with H
// set is alive exactly when the same word without it is.
//
// PID, bits 62..41: 22 bits hold every PID Linux can give (pid_max is at
// most 2^22, PID_MAX_LIMIT).
//
// NS tag, bits 40..28: the PID namespace, as NSTag computes it from the
// namespace inode: (inode - 0xEFFFFFFC) & 0x1FFF. The initial namespace has
// inode PROC_PID_INIT_INO (0xEFFFFFFC), tag 0; the kernel numbers the others
// 0xF0000000 + index, tags 4, 5, ... A word whose tag differs from the
// caller's names a process of another namespace: AliveWord reports it
// alive. Two namespaces whose indexes differ by a multiple of 8192 share a
// tag, and judge each other by PID as before namespaces were recorded. The
// kernel hands out the lowest free index, shared by every kind of namespace
// and some /proc entries, so that takes thousands of them in use at once
// (hundreds of containers), not merely made and gone.
//
// Start, bits 27..0: the low 28 bits of the start time. Start times are in
// USER_HZ ticks, 100 a second on every Linux architecture, so the field
// wraps every 2^28 ticks, about 31 days. A dead owner is taken for alive
// only if a new process got the same PID, in the same namespace, and
// started a whole number of wraps (31, 62, ... days) after it to the very
// tick: one chance in 2^28 for a PID that is reused at all, and PIDs are
// reused only after the PID counter has gone round pid_max.
//
// The zero word names no process (no process has PID 0).
package procinfo
