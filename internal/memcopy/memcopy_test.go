package memcopy

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestCopy: every length around the thresholds, into a larger and a
// smaller destination, copies what copy would.
func TestCopy(t *testing.T) {
	max := cachedMax()
	t.Logf("cached up to %d bytes", max)
	src := make([]byte, 3<<20)
	for i := range src {
		src[i] = byte(rand.Uint32())
	}
	for _, n := range []int{0, 1, ntFrom - 1, ntFrom, ntFrom + 1, ntFrom + piece + 7, max - 1, max, max + 1, len(src)} {
		if n < 0 || n > len(src) {
			continue
		}
		for _, d := range []int{n, n + 5, n / 2} {
			dst := make([]byte, d)
			got := Copy(dst, src[:n])
			if want := min(d, n); got != want || !bytes.Equal(dst[:got], src[:got]) {
				t.Fatalf("Copy of %d bytes into %d: %d, bytes equal %v", n, d, got, bytes.Equal(dst[:got], src[:got]))
			}
		}
	}
}

// TestCopyOverlap: overlapping slices move as copy moves them, either way.
func TestCopyOverlap(t *testing.T) {
	n := ntFrom + piece // copied in pieces where they did not overlap
	for _, shift := range []int{1, 4096, piece + 3} {
		buf := make([]byte, n+shift)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		want := append([]byte(nil), buf...)
		copy(want[shift:], want[:n])
		Copy(buf[shift:], buf[:n])
		if !bytes.Equal(buf, want) {
			t.Fatalf("forward overlap by %d: differs from copy", shift)
		}
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		want = append(want[:0], buf...)
		copy(want[:n], want[shift:])
		Copy(buf[:n], buf[shift:])
		if !bytes.Equal(buf, want) {
			t.Fatalf("backward overlap by %d: differs from copy", shift)
		}
	}
}

func TestL2Size(t *testing.T) {
	dir := t.TempDir()
	put := func(i int, level, typ, size string) {
		d := filepath.Join(dir, "index"+string(rune('0'+i)))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "level"), []byte(level+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "type"), []byte(typ+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "size"), []byte(size+"\n"), 0o644)
	}
	if got := l2Size(dir); got != 0 {
		t.Fatalf("no cache described: %d, want 0", got)
	}
	put(0, "1", "Data", "32K")
	put(1, "1", "Instruction", "32K")
	put(2, "2", "Unified", "1024K")
	put(3, "3", "Unified", "32768K")
	if got := l2Size(dir); got != 1<<20 {
		t.Fatalf("l2Size = %d, want %d", got, 1<<20)
	}
	for s, want := range map[string]int{"2M": 2 << 20, "512": 512, "x": 0, "-1K": 0, "": 0} {
		if got := parseSize(s); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestAppend: Append of every length around the threshold, onto a prefix,
// gives what append gives.
func TestAppend(t *testing.T) {
	src := make([]byte, ntFrom+piece)
	for i := range src {
		src[i] = byte(i * 13)
	}
	for _, n := range []int{0, 64, ntFrom - 1, ntFrom, len(src)} {
		got := Append([]byte("head"), src[:n])
		if want := append([]byte("head"), src[:n]...); !bytes.Equal(got, want) {
			t.Fatalf("Append of %d bytes: differs from append", n)
		}
	}
}
