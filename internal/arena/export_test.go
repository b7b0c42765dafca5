package arena

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
