//go:build amd64 && !race

package memcopy

import "unsafe"

// copyNT copies n bytes from src to dst around the caches (nt_amd64.s): n
// a multiple of 64, dst 16-byte aligned, no overlap.
//
//go:noescape
func copyNT(dst, src unsafe.Pointer, n int)

// clearNT zeroes n bytes from dst around the caches (nt_amd64.s): n a
// multiple of 64, dst 16-byte aligned.
//
//go:noescape
func clearNT(dst unsafe.Pointer, n int)

// copyAround copies src to dst (of one length, not overlapping) around
// the caches: the whole lines of dst with non-temporal stores, its partial
// first and last lines with copy.
func copyAround(dst, src []byte) {
	n := len(dst)
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) & 63)
	if head >= n {
		copy(dst, src)
		return
	}
	copy(dst[:head], src[:head])
	body := (n - head) &^ 63
	if body > 0 {
		copyNT(unsafe.Pointer(&dst[head]), unsafe.Pointer(&src[head]), body)
	}
	copy(dst[head+body:], src[head+body:])
}

// clearAround zeroes dst around the caches: its whole lines with
// non-temporal stores, its partial first and last lines with clear.
func clearAround(dst []byte) {
	n := len(dst)
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) & 63)
	if head >= n {
		clear(dst)
		return
	}
	clear(dst[:head])
	body := (n - head) &^ 63
	if body > 0 {
		clearNT(unsafe.Pointer(&dst[head]), body)
	}
	clear(dst[head+body:])
}
