package memcopy_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/memcopy"
)

// BenchmarkHandOver is the floor of a 1 MiB request/response between two
// cores: two threads of this process hand a 1 MiB message to and fro, each
// copying it into a buffer of its own (8 MiB, four places in turn, as a
// ring would) and raising a flag the other waits on. Nothing else runs:
// no ring, no codec, no wake. copy=go copies with copy, copy=pieces with
// Copy held to the way through the caches, copy=memcopy with Copy as it
// chooses (see choose.go); wait=spin looks at the flag in a tight loop,
// wait=yield-raw yields the CPU between looks through unix.RawSyscall
// (spin.Yield) and wait=yield-syscall through unix.Syscall, with the
// runtime's system call bookkeeping around it.
func BenchmarkHandOver(b *testing.B) {
	for _, c := range []struct {
		name string
		copy func(dst, src []byte) int
		way  int
	}{
		{"go", func(dst, src []byte) int { return copy(dst, src) }, -1},
		{"pieces", memcopy.Copy, memcopy.ViaCache},
		{"memcopy", memcopy.Copy, -1},
	} {
		for _, w := range []struct {
			name string
			look func()
		}{
			{"spin", func() {}},
			{"yield-raw", func() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }},
			{"yield-syscall", func() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }},
		} {
			b.Run("copy="+c.name+"/wait="+w.name, func(b *testing.B) {
				if c.way >= 0 {
					defer memcopy.ForceWay(c.way)()
				}
				benchmarkHandOver(b, 1<<20, c.copy, w.look)
			})
		}
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
