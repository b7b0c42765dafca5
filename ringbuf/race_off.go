//go:build !race

package ringbuf

// raceEnabled: built with -race (see race_on.go).
const raceEnabled = false
