//go:build !amd64 || race

package memcopy

// copyAround is copy, and clearAround clear, where no copy around the
// caches is written, and under the race detector, which does not see what
// assembly stores.
func copyAround(dst, src []byte) { copy(dst, src) }

func clearAround(dst []byte) { clear(dst) }
