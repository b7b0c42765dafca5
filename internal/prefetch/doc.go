// Package prefetch asks the CPU for cache lines ahead of their use: for
// reading (Lines) or for writing (Write). Each is a hint: it never faults,
// and where no prefetch instruction is wired up (other than amd64) it does
// nothing.
package prefetch
