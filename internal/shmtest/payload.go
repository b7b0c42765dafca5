package shmtest

import "math/rand/v2"

// MessageSizes are the sizes of the any-size acceptance tests: 0, and every
// power of two up to 1<<maxShift with its neighbours.
func MessageSizes(maxShift int) []int {
	sizes := []int{0}
	for k := 0; k <= maxShift; k++ {
		for _, n := range []int{1<<k - 1, 1 << k, 1<<k + 1} {
			if n > sizes[len(sizes)-1] {
				sizes = append(sizes, n)
			}
		}
	}
	return sizes
}

// Payload is message i's bytes: n bytes from a generator seeded by i and
// n, so that a receiver can rebuild what any message should hold.
func Payload(i, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
	r.Read(b)
	return b
}
