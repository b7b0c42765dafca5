//go:build amd64

package ringbuf

// relax: see relaxLoads (the loop is in relax_amd64.s).
func relax()
