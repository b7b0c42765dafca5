package arena_test

import "unsafe"

func unsafeBytes(m []uint64) []byte {
	if len(m) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&m[0])), 8*len(m))
}
