//go:build race

package ringbuf

// raceEnabled: built with -race. Loads that only warm a cache line, whose
// value is not used, are left out: the detector would report them.
const raceEnabled = true
