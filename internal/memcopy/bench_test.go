package memcopy_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/spin"
)

// BenchmarkHandOver is the floor of a request/response of 64 KiB or 1 MiB
// between two cores: two threads of this process hand a message to and
// fro, each copying it into a buffer of its own (four places in turn, as a
// ring would) and raising a flag the other waits on, yielding between
// looks (spin.Yield), as the pipe's waits do. Nothing else runs: no ring,
// no codec, no wake. copy=go copies with copy, copy=cache with Copy held
// to the way through the caches, copy=around held to the way around them,
// copy=memcopy with Copy as it chooses (see choose.go).
func BenchmarkHandOver(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		for _, c := range []struct {
			name string
			copy func(dst, src []byte) int
			way  int
		}{
			{"go", func(dst, src []byte) int { return copy(dst, src) }, -1},
			{"cache", memcopy.Copy, memcopy.ViaCache},
			{"around", memcopy.Copy, memcopy.AroundCache},
			{"memcopy", memcopy.Copy, -1},
		} {
			b.Run(fmt.Sprintf("size=%d/copy=%s", size, c.name), func(b *testing.B) {
				if c.way >= 0 {
					defer memcopy.ForceWay(c.way)()
				}
				benchmarkHandOver(b, size, c.copy, spin.Yield)
			})
		}
	}
}

// BenchmarkHandOverWait is BenchmarkHandOver at 1 MiB through the caches,
// with each waiter looking at the flag in a tight loop (spin), yielding
// between looks through unix.RawSyscall (yield-raw, spin.Yield), or
// through unix.Syscall, with the runtime's system call bookkeeping around
// it (yield-syscall).
func BenchmarkHandOverWait(b *testing.B) {
	for _, w := range []struct {
		name string
		look func()
	}{
		{"spin", func() {}},
		{"yield-raw", func() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }},
		{"yield-syscall", func() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }},
	} {
		b.Run("wait="+w.name, func(b *testing.B) {
			defer memcopy.ForceWay(memcopy.ViaCache)()
			benchmarkHandOver(b, 1<<20, memcopy.Copy, w.look)
		})
	}
}

func benchmarkHandOver(b *testing.B, size int, copyFn func(dst, src []byte) int, pause func()) {
	const places = 4
	msg := make([]byte, size)
	there, back := make([]byte, places*(size+4096)), make([]byte, places*(size+4096))
	at := func(buf []byte, i int) []byte { o := (i % places) * (size + 4096); return buf[o : o+size] }
	var sent, answered atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := int64(1); ; i++ {
			for sent.Load() < i {
				if sent.Load() < 0 {
					return
				}
				pause()
			}
			copyFn(at(back, int(i)), at(there, int(i)))
			answered.Store(i)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := benchutil.NewLatency()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := int64(1); i <= int64(b.N); i++ {
		t0 := time.Now()
		copyFn(at(there, int(i)), msg)
		sent.Store(i)
		for answered.Load() < i {
			pause()
		}
		lat.Record(time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sent.Store(-1)
	<-done
	benchutil.ReportRate(b, b.N, size, elapsed)
	lat.Report(b)
}
