//go:build !amd64

package ringbuf

// relax: see relaxLoads.
func relax() {
	for i := 0; i < relaxLoads; i++ {
		relaxWord.Load()
	}
}
