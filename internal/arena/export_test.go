package arena

import "github.com/shmkit/shmkit/internal/procinfo"

// Check runs the invariant checker on a quiet arena.
func Check(a *Arena) error { return a.check() }

// Lock takes a's metadata lock and keeps it (a kill point for tests).
func Lock(a *Arena) error { return a.acquire() }

// Attach views raw metadata and data bodies as an arena (for fuzzing).
func Attach(meta, data []byte) (*Arena, error) { return attach(meta, data) }

// MetaSize and DataSize are the body sizes for pages pages and records
// records.
func MetaSize(pages, records int) int { return metaSize(pages, records) }
func DataSize(pages int) int          { return dataSize(pages) }

// Layout offsets, for the fuzzer's seeds.
const (
	OffPages   = offPages
	OffRecords = offRecords
	OffLock    = offLock
)

// Record layout and a lock word of a process that cannot exist, for the
// hostile-metadata fuzzer.
const (
	OffRecords0 = offRecords0
	RecordSize  = recordSize
)

// DeadWord is a procinfo word of this namespace naming no process: its
// PID is the largest the word holds, past pid_max here, with a start time
// no process of that PID could have had.
var DeadWord = procinfo.Ident{Pid: 1<<22 - 1, Start: 1, NS: procinfo.Self().NS}.Word()

// SetFreeingHook makes every free run f between the two stores that free
// a record (a kill point for tests).
func SetFreeingHook(f func()) { testHookFreeing = f }
