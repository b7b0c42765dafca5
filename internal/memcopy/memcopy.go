// Package memcopy copies a message into or out of shared memory so that
// its bytes stay in cache for the core that reads them next, where that
// is faster.
//
// Go's copy on amd64 stores around the caches (VMOVNTDQ, non-temporal
// stores, which go to memory) for 1 MiB and more, on CPUs whose copies
// use AVX: AMD's, and Intel's without ERMS and FSRM (runtime/
// memmove_amd64.s, runtime/cpuflags_amd64.go). That suits a copy nobody
// reads soon. A message copied into a ring is read by its consumer a few
// microseconds later, and one copied out by its receiver at once: from
// memory, where the stores left it. Copy can make such a copy, up to one
// and a half times the per-core L2 cache, in pieces under 1 MiB, which Go
// copies through the caches; larger copies are left to Go. The bound is
// empirical, measured on one machine (below): where the non-temporal copy
// starts to win depends on the caches, and there it was between 1.5 and 2
// times L2.
//
// Whether the way through the caches is faster depends on where the
// writer's and the reader's cores are: near, it is; far apart, it is many
// times slower than memory. So Copy times its large copies and takes the
// way that costs less (choose.go).
//
// Measured with pipe's BenchmarkRequestResponse, in process, one request
// of each size in flight and echoed, on a 2-core AMD EPYC VM with 1 MiB of
// L2 per core and 32 MiB of L3, its cores near each other (µs per round
// trip, two runs each, one copy whole against in pieces of 512 KiB):
// 1 MiB 78-89 against 59-71, 1.5 MiB 138-151 against 104-129, 2 MiB
// 168-174 against 192-213, 4 MiB 345-413 against 506-586, 16 MiB
// 1391-1467 against 2556-2597. BenchmarkHandOver is the floor of that
// round trip: two threads and two copies, nothing else.
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

// piece is the length Copy copies at a time: under ntFrom.
const piece = ntFrom / 2

// maxL2 bounds the L2 size believed from sysfs.
const maxL2 = 64 << 20

// cachedMax returns the longest copy Copy keeps in the caches: one and a
// half times the L2 cache of CPU 0 as sysfs gives it, 0 (none: Go's copy
// as it is) off amd64 or where sysfs does not say. Its first call (the
// first copy of 1 MiB or more in the process) reads a few sysfs files.
// Tests replace it.
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
// how many, as copy does. A copy Go would make around the caches that the
// caches can hold goes through them, in pieces (see the package doc).
func Copy(dst, src []byte) int {
	if len(dst) < ntFrom || len(src) < ntFrom { // (small enough to inline: the messages of a hot path)
		return copy(dst, src)
	}
	return copyLarge(dst, src)
}

func copyLarge(dst, src []byte) int {
	n := min(len(dst), len(src))
	if n > cachedMax() || overlap(dst[:n], src[:n]) {
		return copy(dst, src)
	}
	copyChosen(dst, src, n)
	return n
}

// Append appends src to dst, as append(dst, src...), copying as Copy
// where dst has room for src. One that must grow is append's: a grown
// slice is new memory, which slices.Grow would zero before the copy.
func Append(dst, src []byte) []byte {
	if len(src) < ntFrom || cap(dst)-len(dst) < len(src) {
		return append(dst, src...)
	}
	n := len(dst)
	dst = dst[:n+len(src)]
	Copy(dst[n:], src)
	return dst
}

// overlap reports whether a and b (of one length) share a byte: a
// forward copy in pieces would read bytes it had already overwritten.
func overlap(a, b []byte) bool {
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	n := uintptr(len(a))
	return pa < pb+n && pb < pa+n
}
