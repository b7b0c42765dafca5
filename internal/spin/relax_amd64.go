//go:build amd64

package spin

// Relax pauses a spinning waiter between two looks at its condition: see
// relaxLoads (the loop is in relax_amd64.s).
func Relax()
