// Package shm creates, opens and lists named POSIX shared-memory segments,
// and keeps a directory of named objects inside each one.
//
// Scope: Linux only. A named segment is a file in /dev/shm (shm_open's
// namespace), mapped with github.com/edsrzf/mmap-go; an anonymous segment is
// a memfd that travels to a child process as a file descriptor, its size
// sealed so that no process holding it can cut the others' mappings short.
//
// Safety: Create makes the file unnamed, mode 0600, and gives it its name
// only once its header is written, failing if the name is taken (as
// O_CREAT|O_EXCL|O_NOFOLLOW), so a creator killed at any point leaves
// nothing behind. It reserves every page with fallocate, so a full
// /dev/shm fails at create time with
// ErrNoSpace instead of killing a later writer with SIGBUS. Open reads and
// checks the header (magic, layout version, kind, size against the file's)
// with pread before it maps anything. Nothing read from shared memory is
// trusted: every offset and length is bounds-checked before use. A named
// segment cannot be sealed: a process that may open it for writing can
// truncate it later, and every process mapping it then gets SIGBUS at its
// next touch past the new end. Where that matters, use CreateAnon, whose
// size is sealed, and attach processes that only look with ReadOnly.
//
// Ownership: the creator's PID, start time and PID namespace are recorded in
// the header. Close unmaps; it never removes the name. Unlink removes the
// name; the memory lives on until the last mapping goes. `shmkit gc` unlinks
// segments whose creator has died; a creator in another PID namespace cannot
// be looked up, so its segments are left alone.
//
// Objects: a segment holds a directory of named objects (Values, Arrays,
// rings, locks), each cache-line aligned and starting with an object header
// that says its kind, layout version, element type and capacity. Alloc is
// safe when processes allocate in one segment at once; Lookup never blocks.
//
// A *Segment is safe for concurrent use by goroutines; the bytes it hands out
// are shared with other processes and carry no synchronisation of their own.
package shm
