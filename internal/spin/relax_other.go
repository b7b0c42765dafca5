//go:build !amd64

package spin

// Relax pauses a spinning waiter between two looks at its condition: see
// relaxLoads.
func Relax() {
	for i := 0; i < relaxLoads; i++ {
		relaxWord.Load()
	}
}
