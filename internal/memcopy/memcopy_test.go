package memcopy_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/internal/memcopy"
)

// limits are the bounds Copy is tested under: the machine's, none (Go's
// copy throughout), and one above every length here with each way forced
// (pieces from 1 MiB on, or Go's copy), so that the piecewise path runs
// whatever the machine and whatever the chooser learnt.
func limits(t *testing.T) map[string][2]int {
	t.Logf("this machine keeps copies of up to %d bytes in cache", memcopy.CachedMax())
	return map[string][2]int{
		"machine":    {memcopy.CachedMax(), -1},
		"none":       {0, -1},
		"all/via":    {1 << 30, memcopy.ViaCache},
		"all/around": {1 << 30, memcopy.AroundCache},
	}
}

// under sets the bound and forced way (-1: the chooser's) for t.
func under(t *testing.T, limit [2]int) {
	t.Cleanup(memcopy.SetCachedMax(limit[0]))
	if limit[1] >= 0 {
		t.Cleanup(memcopy.ForceWay(limit[1]))
	}
}

func randomBytes(t *testing.T, n int) []byte {
	seed := uint64(rand.Int64())
	if s := os.Getenv("SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("SEED=%d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestCopy: every length around the thresholds, into a larger and a
// smaller destination, copies what copy would.
func TestCopy(t *testing.T) {
	src := randomBytes(t, 3<<20)
	for name, limit := range limits(t) {
		t.Run(name, func(t *testing.T) {
			under(t, limit)
			for _, n := range []int{0, 1, memcopy.ChooseFrom - 1, memcopy.ChooseFrom, memcopy.ChooseFrom + 13, 64<<10 + 37, memcopy.NTFrom - 1, memcopy.NTFrom, memcopy.NTFrom + 1, memcopy.NTFrom + memcopy.Piece + 7, 3<<20 - 64} {
				for _, d := range []int{n, n + 5, n / 2} {
					for _, off := range [][2]int{{0, 0}, {1, 0}, {17, 5}, {63, 63}} { // dst, src offsets from 64-byte lines
						dst := make([]byte, d+64)[off[0]:][:d]
						from := src[off[1]:][:n]
						got := memcopy.Copy(dst, from)
						if want := min(d, n); got != want || !bytes.Equal(dst[:got], from[:got]) {
							t.Fatalf("Copy of %d bytes into %d (offsets %v): %d, bytes equal %v", n, d, off, got, bytes.Equal(dst[:got], from[:got]))
						}
					}
				}
			}
		})
	}
}

// TestAround: every offset within a line and lengths from none to a few
// lines and a long copy copy what copy would, and nothing past the
// destination's end.
func TestAround(t *testing.T) {
	src := randomBytes(t, 1<<20+200)
	for _, n := range []int{0, 1, 8, 63, 64, 65, 127, 128, 200, 4096 + 24, 1 << 20} {
		for _, off := range []int{0, 1, 8, 17, 48, 63} {
			buf := make([]byte, n+64+off)
			dst := buf[off : off+n]
			from := src[off%7:][:n]
			if got := memcopy.Around(dst, from); got != n || !bytes.Equal(dst, from) {
				t.Fatalf("Around of %d bytes at offset %d: %d, bytes equal %v", n, off, got, bytes.Equal(dst, from))
			}
			for i, c := range buf[off+n:] {
				if c != 0 {
					t.Fatalf("Around of %d bytes at offset %d wrote byte %d past the end", n, off, i)
				}
			}
			if got := memcopy.Around(dst[:n/2], from); got != n/2 {
				t.Fatalf("Around into %d of %d bytes: %d", n/2, n, got)
			}
		}
	}
}

// TestClearAround: every byte of dst is zero after it, whatever its length
// and its offset from a cache line (whole lines, partial ones, none), and
// not a byte around it changed.
func TestClearAround(t *testing.T) {
	for _, n := range []int{0, 1, 8, 63, 64, 65, 127, 128, 200, 1024, 4096 + 24, 1 << 20} {
		for _, off := range []int{0, 1, 8, 17, 48, 63} {
			raw := randomBytes(t, n+192+off)
			base := int(-uintptr(unsafe.Pointer(&raw[0])) & 63) // buf starts on a line, dst off bytes past one
			buf := raw[base : base+n+128+off]
			want := bytes.Clone(buf)
			clear(want[64+off : 64+off+n])
			memcopy.ClearAround(buf[64+off : 64+off+n])
			if !bytes.Equal(buf, want) {
				i := 0
				for buf[i] == want[i] {
					i++
				}
				t.Fatalf("ClearAround of %d bytes at %d past a line: byte %d of the buffer is %#x, want %#x (the bytes cleared are %d to %d)", n, off, i, buf[i], want[i], 64+off, 64+off+n)
			}
		}
	}
}

// TestCopyOverlap: overlapping slices move as copy moves them, either way
// (a forward copy in pieces would not: its second piece would read what
// its first had overwritten).
func TestCopyOverlap(t *testing.T) {
	under(t, [2]int{1 << 30, memcopy.ViaCache})
	n := memcopy.NTFrom + memcopy.Piece
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(i * 7)
		}
	}
	for _, shift := range []int{0, 1, 4096, memcopy.Piece + 3} {
		buf := make([]byte, n+shift)
		fill(buf)
		want := bytes.Clone(buf)
		copy(want[shift:], want[:n])
		memcopy.Copy(buf[shift:], buf[:n])
		if !bytes.Equal(buf, want) {
			t.Fatalf("forward overlap by %d: differs from copy", shift)
		}
		fill(buf)
		want = bytes.Clone(buf)
		copy(want[:n], want[shift:])
		memcopy.Copy(buf[:n], buf[shift:])
		if !bytes.Equal(buf, want) {
			t.Fatalf("backward overlap by %d: differs from copy", shift)
		}
	}
}

// TestAppend: Append of every length around the threshold gives what
// append gives, onto a slice that must grow, one with room, and one whose
// spare room holds src itself.
func TestAppend(t *testing.T) {
	src := randomBytes(t, memcopy.NTFrom+memcopy.Piece)
	for name, limit := range limits(t) {
		t.Run(name, func(t *testing.T) {
			under(t, limit)
			for _, n := range []int{0, 64, memcopy.NTFrom - 1, memcopy.NTFrom, len(src)} {
				want := append([]byte("head"), src[:n]...)
				if got := memcopy.Append([]byte("head"), src[:n]); !bytes.Equal(got, want) {
					t.Fatalf("Append of %d bytes onto a slice that grows: differs from append", n)
				}
				roomy := append(make([]byte, 0, 4+n), "head"...)
				if got := memcopy.Append(roomy, src[:n]); !bytes.Equal(got, want) || &got[0] != &roomy[:1][0] {
					t.Fatalf("Append of %d bytes onto a slice with room: differs from append, or moved", n)
				}
				// src in dst's spare room, shifted by a few bytes.
				buf := make([]byte, 4+n+9)
				copy(buf, "head")
				copy(buf[9:], src[:n])
				if got := memcopy.Append(buf[:4], buf[9:9+n]); !bytes.Equal(got, want) {
					t.Fatalf("Append of %d bytes lying in its destination's spare room: differs from append", n)
				}
			}
		})
	}
}

func TestL2Size(t *testing.T) {
	dir := t.TempDir()
	put := func(i int, level, typ, size string) {
		d := filepath.Join(dir, "index"+strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"level": level, "type": typ, "size": size} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := memcopy.L2Size(dir); got != 0 {
		t.Fatalf("no cache described: %d, want 0", got)
	}
	put(0, "1", "Data", "32K")
	put(1, "1", "Instruction", "32K")
	put(2, "2", "Unified", "1024K")
	put(3, "3", "Unified", "32768K")
	if got := memcopy.L2Size(dir); got != 1<<20 {
		t.Fatalf("L2Size = %d, want %d", got, 1<<20)
	}
	for s, want := range map[string]int{"2048K": 2 << 20, "2M": 2 << 20, "512": 512, "x": 0, "-1K": 0, "": 0, "9999999999M": 0, "99999999999999999999": 0} {
		if got := memcopy.ParseSize(s); got != want {
			t.Errorf("ParseSize(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestChooser: fed with the timings of a near placement (through the
// caches cheaper), then of a far one (through them 8x dearer), then near
// again, each class's chooser takes the cheaper way within a few copies
// of each change, and tries the other way at gaps that double.
func TestChooser(t *testing.T) {
	for _, size := range []int{64 << 10, 1 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) { testChooser(t, size) })
	}
}

func testChooser(t *testing.T, size int) {
	memcopy.ResetChooser()
	t.Cleanup(memcopy.ResetChooser)
	scale := int64(size) / (1 << 10)                                // the costs below are ns a KiB
	cost := [2]int64{memcopy.ViaCache: 22, memcopy.AroundCache: 28} // near
	var ways [2]int
	var tries []int
	run := func(copies int) (last int) {
		ways = [2]int{}
		for i := 0; i < copies; i++ {
			way, try := memcopy.Choose(size)
			ways[way]++
			if try {
				tries = append(tries, i)
			}
			memcopy.Took(way, try, size, cost[way]*scale)
			last = way
		}
		return last
	}
	if last := run(4000); last != memcopy.ViaCache || ways[memcopy.AroundCache] > 12 {
		t.Fatalf("near: last copy went way %d, %v copies each way (via, around)", last, ways)
	}
	// The gaps between tries double up to TryMax.
	for i := 1; i < len(tries); i++ {
		if gap := tries[i] - tries[i-1]; gap > memcopy.TryMax || (i > 1 && gap < tries[i-1]-tries[i-2]) {
			t.Fatalf("tries at %v: gap %d", tries, gap)
		}
	}
	if gap := tries[len(tries)-1] - tries[len(tries)-2]; gap != memcopy.TryMax {
		t.Fatalf("tries at %v: last gap %d, want %d", tries, gap, memcopy.TryMax)
	}
	cost[memcopy.ViaCache] = 200 // far
	run(10)
	if ways[memcopy.ViaCache] > 4 {
		t.Fatalf("far: %v copies each way in the first 10 (via, around): want at most 4 through the caches", ways)
	}
	if last := run(3000); last != memcopy.AroundCache || ways[memcopy.ViaCache] > 12 {
		t.Fatalf("far: last copy went way %d, %v copies each way (via, around)", last, ways)
	}
	cost[memcopy.ViaCache] = 22 // near again
	tries = tries[:0]
	if last := run(2 * memcopy.TryMax); last != memcopy.ViaCache {
		t.Fatalf("near again: last copy went way %d, %v copies each way (via, around), tries at %v", last, ways, tries)
	}
}

// TestChooserSlack: with the way through the caches looking 1.4 times
// dearer, copies of 1 MiB still take it (their measured costs mislead by
// that much: see largeSlack) and copies of 64 KiB go around.
func TestChooserSlack(t *testing.T) {
	t.Cleanup(memcopy.ResetChooser)
	for size, want := range map[int]int{1 << 20: memcopy.ViaCache, 64 << 10: memcopy.AroundCache} {
		memcopy.ResetChooser()
		cost := [2]int64{memcopy.ViaCache: 28 * int64(size), memcopy.AroundCache: 20 * int64(size)}
		var ways [2]int
		for i := 0; i < 1000; i++ {
			way, try := memcopy.Choose(size)
			if !try {
				ways[way]++
			}
			memcopy.Took(way, try, size, cost[way]>>10)
		}
		if ways[want] < 990 {
			t.Errorf("copies of %d bytes: %v each way (via, around), want nearly all way %d", size, ways, want)
		}
	}
}

// TestCopyOut: CopyOut and AppendOut copy what copy and append would,
// around the thresholds, and overlapping slices as copy moves them.
func TestCopyOut(t *testing.T) {
	src := randomBytes(t, 3<<20)
	for name, limit := range limits(t) {
		t.Run(name, func(t *testing.T) {
			under(t, limit)
			for _, n := range []int{0, 1, memcopy.NTFrom - 1, memcopy.NTFrom, memcopy.NTFrom + memcopy.Piece + 7, 3 << 20} {
				for _, d := range []int{n, n + 5, n / 2} {
					dst := make([]byte, d)
					got := memcopy.CopyOut(dst, src[:n])
					if want := min(d, n); got != want || !bytes.Equal(dst[:got], src[:got]) {
						t.Fatalf("CopyOut of %d bytes into %d: %d, bytes equal %v", n, d, got, bytes.Equal(dst[:got], src[:got]))
					}
				}
				want := append([]byte("head"), src[:n]...)
				if got := memcopy.AppendOut(append(make([]byte, 0, 4+n), "head"...), src[:n]); !bytes.Equal(got, want) {
					t.Fatalf("AppendOut of %d bytes: differs from append", n)
				}
			}
			n := memcopy.NTFrom + memcopy.Piece
			buf := make([]byte, n+1)
			for i := range buf {
				buf[i] = byte(i * 7)
			}
			want := bytes.Clone(buf)
			copy(want[1:], want[:n])
			memcopy.CopyOut(buf[1:], buf[:n])
			if !bytes.Equal(buf, want) {
				t.Fatalf("forward overlap: differs from copy")
			}
		})
	}
}

// TestCopyGuards: Copy writes nothing outside dst, whichever way it goes.
func TestCopyGuards(t *testing.T) {
	src := randomBytes(t, 1<<20+300)
	for name, limit := range limits(t) {
		t.Run(name, func(t *testing.T) {
			under(t, limit)
			for _, n := range []int{memcopy.ChooseFrom + 1, 64<<10 + 63, 1<<20 + 200} {
				for _, off := range []int{0, 1, 33, 64} {
					buf := make([]byte, n+256)
					for i := range buf {
						buf[i] = 0xAA
					}
					memcopy.Copy(buf[off:off+n], src[:n])
					if !bytes.Equal(buf[off:off+n], src[:n]) {
						t.Fatalf("Copy of %d bytes at offset %d: wrong bytes", n, off)
					}
					for i, b := range buf {
						if (i < off || i >= off+n) && b != 0xAA {
							t.Fatalf("Copy of %d bytes at offset %d wrote byte %d, outside its destination", n, off, i)
						}
					}
				}
			}
		})
	}
}

// TestChooserOutlier: one copy through the caches stretched 25 times (a
// preemption) does not send the next copies around them.
func TestChooserOutlier(t *testing.T) {
	memcopy.ResetChooser()
	t.Cleanup(memcopy.ResetChooser)
	const size = 1 << 20
	cost := [2]int64{memcopy.ViaCache: 22_000, memcopy.AroundCache: 28_000}
	feed := func(copies int, stretch int64) (ways [2]int) {
		for i := 0; i < copies; i++ {
			way, try := memcopy.Choose(size)
			ways[way]++
			d := cost[way]
			if way == memcopy.ViaCache && !try {
				d *= stretch
			}
			memcopy.Took(way, try, size, d)
		}
		return ways
	}
	feed(100, 1)
	feed(1, 25)
	if ways := feed(10, 1); ways[memcopy.AroundCache] > 1 {
		t.Fatalf("after one stretched copy: %v copies each way (via, around)", ways)
	}
}

// TestChooserConcurrent: copies timed from several goroutines at once (the
// race detector checks the chooser's state) still settle on the cheaper
// way.
func TestChooserConcurrent(t *testing.T) {
	memcopy.ResetChooser()
	t.Cleanup(memcopy.ResetChooser)
	const size = 64 << 10
	cost := [2]int64{memcopy.ViaCache: 3_000, memcopy.AroundCache: 1_500}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				way, try := memcopy.Choose(size)
				memcopy.Took(way, try, size, cost[way])
			}
		}()
	}
	wg.Wait()
	way, try := memcopy.Choose(size)
	if try { // a try of the way not taken: the next copy is not one
		memcopy.Took(way, try, size, cost[way])
		way, _ = memcopy.Choose(size)
	}
	if way != memcopy.AroundCache {
		t.Fatalf("after 20000 copies from 4 goroutines: way %d, want around the caches", way)
	}
}
