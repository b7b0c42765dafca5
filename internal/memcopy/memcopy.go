// Package memcopy copies a message into or out of shared memory the way
// that is faster for the core that reads it next: through the caches, or
// around them, to memory.
//
// Go's copy goes through the caches under 1 MiB and, on amd64 CPUs whose
// copies use AVX (AMD's, and Intel's lacking ERMS or FSRM), around them
// from 1 MiB on, with non-temporal stores (runtime/memmove_amd64.s,
// runtime/cpuflags_amd64.go). That suits copies that stay on one core. A
// message copied into a ring is read by another core microseconds later,
// and which way is faster then depends on where the two cores are. Near
// each other (a shared cache, or a fast link to one), the way through the
// caches won at 1 MiB and 256 KiB, the way around them at 64 KiB; far
// apart, a line one core holds crosses a slow link to reach the other,
// memory does not, and the way around the caches won five to eight times
// from 64 KiB to 1 MiB. So Copy, for copies into shared memory, times its
// copies of chooseFrom (32 KiB) up to one and a half times the per-core L2
// cache and takes the way that has cost less (choose.go): under 1 MiB,
// Go's copy or copyAround (non-temporal stores, amd64); from 1 MiB, in
// pieces under 1 MiB (which Go copies through the caches) or Go's copy.
// The choice sees only the writer's copy, not the reader's, whose cost
// depends on it too; where the two disagreed (at 1 MiB, near) the choice
// is biased to the caches. Outside those bounds it is Go's copy: shorter
// copies are not worth two clock reads, and longer ones ran faster around
// the caches (in process, near: 2 MiB 168-174 µs a round trip whole
// against 192-213 in pieces, 4 MiB 345-413 against 506-586, 16 MiB
// 1391-1467 against 2556-2597; the bound is empirical, between 1.5 and 2
// times L2 on that machine). CopyOut, for copies out of shared memory
// into a buffer this core reads next, goes through the caches. Around
// always goes around them, for a writer that knows its lines are read
// next on another core (the bare stream of bench.ShmStream).
//
// BenchmarkHandOver measures the ways: two threads handing a message to
// and fro, two copies a round trip and nothing else. Figures of it and
// of the pipe are in docs/queue.md.
package memcopy

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// ntFrom is the length from which Go's memmove on amd64 may store around
// the caches (CMPQ BX, $0x100000 in runtime/memmove_amd64.s).
const ntFrom = 1 << 20

// piece is the length Copy copies at a time through the caches: under
// ntFrom.
const piece = ntFrom / 2

// chooseFrom is the shortest copy whose way Copy chooses: below it the
// two clock reads that time a copy would cost a tenth of it or more.
const chooseFrom = 32 << 10

// maxL2 bounds the L2 size believed from sysfs.
const maxL2 = 64 << 20

// cachedMax returns the longest copy whose way Copy chooses (and CopyOut
// makes in pieces): one and a half times the L2 cache of CPU 0 as sysfs
// gives it, 0 (none: Go's copy as it is) off amd64 or where sysfs does not
// say. Its first call (the process's first copy of chooseFrom or more)
// reads a few sysfs files. Tests replace it.
var cachedMax = sync.OnceValue(func() int {
	if runtime.GOARCH != "amd64" {
		return 0
	}
	l2 := l2Size("/sys/devices/system/cpu/cpu0/cache")
	return l2 + l2/2
})

// l2Size returns the size in bytes of the unified (or data) level-2 cache
// described under dir (index0, index1...), 0 if none is.
func l2Size(dir string) int {
	for i := 0; ; i++ {
		idx := dir + "/index" + strconv.Itoa(i)
		level, err := os.ReadFile(idx + "/level")
		if err != nil {
			return 0
		}
		if strings.TrimSpace(string(level)) != "2" {
			continue
		}
		if t, _ := os.ReadFile(idx + "/type"); strings.TrimSpace(string(t)) == "Instruction" {
			continue
		}
		size, _ := os.ReadFile(idx + "/size")
		return parseSize(strings.TrimSpace(string(size)))
	}
}

// parseSize reads a sysfs cache size ("1024K", "2M", "512"), 0 if it
// cannot or if it is above maxL2.
func parseSize(s string) int {
	mul := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mul, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mul, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxL2/mul {
		return 0
	}
	return n * mul
}

// Copy copies min(len(dst), len(src)) bytes from src to dst and returns
// how many, as copy does, for a copy into shared memory that another core
// reads next: through the caches or around them, as has cost less (see
// the package doc).
func Copy(dst, src []byte) int {
	if len(dst) < chooseFrom || len(src) < chooseFrom { // (small enough to inline: the messages of a hot path)
		return copy(dst, src)
	}
	return copyOwn(dst, src, copyChosen)
}

// copyOwn copies src to dst as copy does, with way (which takes the length)
// where memcopy makes the copy its own way: not past cachedMax, and not
// between overlapping slices (a forward copy in pieces would read bytes it
// had overwritten).
func copyOwn(dst, src []byte, way func(dst, src []byte, n int)) int {
	n := min(len(dst), len(src))
	if n > cachedMax() || overlap(dst[:n], src[:n]) {
		return copy(dst, src)
	}
	way(dst, src, n)
	return n
}

// CopyOut is Copy for a copy out of shared memory into memory that this
// core reads next (a receiver's buffer): that goes through the caches,
// whatever the placement, up to the bound Copy chooses under (a copy of 1
// MiB or more in pieces). How the source was written is the writer's
// choice, made by its Copy.
func CopyOut(dst, src []byte) int {
	if len(dst) < ntFrom || len(src) < ntFrom { // Go's copy goes through the caches (small enough to inline, as Copy)
		return copy(dst, src)
	}
	return copyOwn(dst, src, copyPieces)
}

// copyPieces copies n bytes of src to dst (not overlapping) through the
// caches, in pieces under ntFrom.
func copyPieces(dst, src []byte, n int) {
	for off := 0; off < n; off += piece {
		end := min(off+piece, n)
		copy(dst[off:end], src[off:end])
	}
}

// AppendOut is Append copying as CopyOut.
func AppendOut(dst, src []byte) []byte {
	if len(src) < ntFrom || cap(dst)-len(dst) < len(src) {
		return append(dst, src...)
	}
	return appendInto(dst, src, CopyOut)
}

// Append appends src to dst, as append(dst, src...), copying as Copy
// where dst has room for src. One that must grow is append's: a grown
// slice is new memory, which slices.Grow would zero before the copy.
func Append(dst, src []byte) []byte {
	if len(src) < chooseFrom || cap(dst)-len(dst) < len(src) {
		return append(dst, src...)
	}
	return appendInto(dst, src, Copy)
}

// appendInto appends src to dst, which has room for it, copying with cp.
func appendInto(dst, src []byte, cp func(dst, src []byte) int) []byte {
	n := len(dst)
	dst = dst[:n+len(src)]
	cp(dst[n:], src)
	return dst
}

// overlap reports whether a and b (of one length) share a byte.
func overlap(a, b []byte) bool {
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	n := uintptr(len(a))
	return pa < pb+n && pb < pa+n
}

// Around copies min(len(dst), len(src)) bytes from src to dst (not
// overlapping) around the caches, whatever its length, and returns how
// many: the whole lines of dst with non-temporal stores and an SFENCE
// after them (amd64), so that a release store after it publishes the copy;
// Go's copy elsewhere and under the race detector. It is for a writer that
// knows the copy's lines are next read by another core and never by its
// own, as the stream benchmarks measure (bench.ShmStream).
func Around(dst, src []byte) int {
	n := min(len(dst), len(src))
	copyAround(dst[:n], src[:n])
	return n
}

// ClearAround zeroes dst around the caches, as Around copies: its whole
// lines with non-temporal stores and an SFENCE after them (amd64), so that
// a release store after it publishes the zeros; clear elsewhere and under
// the race detector. It is for a writer whose zeros are next overwritten
// by another core, which then finds the lines in memory rather than
// waiting for this core's cache to give them up (an MPSC ring's consumer,
// see ringbuf's zeroRange).
func ClearAround(dst []byte) { clearAround(dst) }
