package arena_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// newArena makes an arena of size bytes in an anonymous segment whose
// tail is sparse, as queue.New and pipe.New do.
func newArena(t *testing.T, size int64, records int, highWater int64) (*shm.Segment, *arena.Arena) {
	t.Helper()
	meta, data := arena.Sizes(size, records)
	seg, err := shm.CreateAnon(int64(meta+data)+4*shm.ObjectHeaderSize, shm.WithSparse(int64(data-arena.PageSize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close() })
	a, err := arena.Create(seg, "a.m", "a.d", size, records, highWater)
	if err != nil {
		t.Fatal(err)
	}
	return seg, a
}

func TestAllocFree(t *testing.T) {
	_, a := newArena(t, 1<<20, 64, 1<<20)
	var blocks []arena.Block
	for _, n := range []int{0, 1, 4095, 4096, 4097, 100000} {
		b, ok, err := a.TryAlloc(n)
		if !ok || err != nil {
			t.Fatalf("TryAlloc(%d): %v %v", n, ok, err)
		}
		buf := a.Bytes(b)
		if len(buf) != n {
			t.Fatalf("TryAlloc(%d) gave %d bytes", n, len(buf))
		}
		for i := range buf {
			buf[i] = byte(n)
		}
		blocks = append(blocks, b)
	}
	want := int64(1+1+1+1+2+25) * arena.PageSize
	if a.Used() != want {
		t.Fatalf("Used %d, want %d", a.Used(), want)
	}
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		for _, c := range a.Bytes(b) {
			if c != byte(b.Len) {
				t.Fatalf("block of %d bytes overwritten", b.Len)
			}
		}
		if err := a.Free(b); err != nil {
			t.Fatal(err)
		}
	}
	if a.Used() != 0 {
		t.Fatalf("Used %d after freeing everything", a.Used())
	}
	if err := a.Free(blocks[0]); !errors.Is(err, arena.ErrStale) {
		t.Fatalf("second Free: %v, want ErrStale", err)
	}
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// TestFullAndFragments: an arena that has no run long enough says so
// (ok false), and finds one again once a neighbour is freed.
func TestFullAndFragments(t *testing.T) {
	_, a := newArena(t, 16*arena.PageSize, 64, 1<<20)
	var bs []arena.Block
	for range 16 {
		b, ok, err := a.TryAlloc(arena.PageSize)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		bs = append(bs, b)
	}
	if _, ok, err := a.TryAlloc(1); ok || err != nil {
		t.Fatalf("TryAlloc on a full arena: %v %v", ok, err)
	}
	a.Free(bs[3])
	a.Free(bs[5])
	if _, ok, _ := a.TryAlloc(2 * arena.PageSize); ok {
		t.Fatal("two pages found where only single free pages are")
	}
	a.Free(bs[4])
	b, ok, err := a.TryAlloc(3 * arena.PageSize)
	if !ok || err != nil || b.Start != 3 {
		t.Fatalf("three pages: %+v %v %v, want start 3", b, ok, err)
	}
	if _, _, err := a.TryAlloc(17 * arena.PageSize); err == nil {
		t.Fatal("a block larger than the arena was not refused")
	}
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// TestHighWater: freed pages stay reserved up to the high-water mark and
// are given back past it.
func TestHighWater(t *testing.T) {
	_, a := newArena(t, 64<<20, 64, 4<<20)
	var bs []arena.Block
	for range 4 {
		b, ok, err := a.TryAlloc(4 << 20)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		bs = append(bs, b)
	}
	if a.Backed() != 16<<20 {
		t.Fatalf("Backed %d, want 16 MiB", a.Backed())
	}
	a.Free(bs[0])
	if a.Backed() != 16<<20 {
		t.Fatalf("Backed %d after freeing 4 MiB (at the mark), want 16 MiB kept", a.Backed())
	}
	a.Free(bs[1])
	if a.Backed() > 12<<20+2<<20 || a.Backed() < 8<<20 {
		t.Fatalf("Backed %d after freeing 8 MiB past a 4 MiB mark, want 10..14 MiB", a.Backed())
	}
	// Reusing kept pages reserves nothing new.
	kept := a.Backed()
	b, ok, err := a.TryAlloc(int(kept - a.Used()))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	_ = b
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// TestTrimKeepsFirstFitPages: the pages kept reserved past a trim are
// those first fit hands out next (the lowest), so that a stream whose
// blocks in flight swing past the high-water mark places its next block
// on reserved pages rather than reserving (and every reader faulting in)
// pages just given back.
func TestTrimKeepsFirstFitPages(t *testing.T) {
	_, a := newArena(t, 64<<20, 64, 4<<20)
	var bs []arena.Block
	for range 4 {
		b, ok, err := a.TryAlloc(4 << 20)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		bs = append(bs, b)
	}
	for _, b := range bs { // FIFO, as a queue frees them
		if err := a.Free(b); err != nil {
			t.Fatal(err)
		}
	}
	kept := a.Backed()
	if kept < 4<<20 || kept > 6<<20 {
		t.Fatalf("Backed %d after freeing everything past a 4 MiB mark, want 4..6 MiB", kept)
	}
	b, ok, err := a.TryAlloc(4 << 20)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if a.Backed() != kept {
		t.Fatalf("a 4 MiB block after the trim reserved %d bytes more: the trim gave back the pages first fit reuses", a.Backed()-kept)
	}
	a.Free(b)
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// rssShmem reads RssShmem from /proc/self/status, in bytes.
func rssShmem(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "RssShmem:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no RssShmem in /proc/self/status")
	return 0
}

// TestSparseCostsNothing is the experiment the design stands on: a memfd
// (tmpfs) file sized far beyond the machine's memory is created and
// mapped at no cost, and only the pages a block covers are reserved.
func TestSparseCostsNothing(t *testing.T) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	mem := int64(si.Totalram) * int64(si.Unit)
	size := min(4*mem, 200<<30) // 4 × RAM: it could never be backed
	before := rssShmem(t)
	_, a := newArena(t, size, 64, 1<<20)
	if grew := rssShmem(t) - before; grew > 32<<20 {
		t.Fatalf("an arena of %d GiB on a %d GiB machine made RssShmem grow %d MiB", size>>30, mem>>30, grew>>20)
	}
	b, ok, err := a.TryAlloc(8 << 20)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if grew := rssShmem(t) - before; grew < 8<<20 || grew > 48<<20 {
		t.Fatalf("an 8 MiB block made RssShmem grow %d MiB", grew>>20)
	}
	a.Free(b)
}

// TestNoSpace: a block /dev/shm cannot back is ErrNoSpace at allocation,
// on a 1 MiB tmpfs mounted for the test (root only).
func TestNoSpace(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	meta, data := arena.Sizes(64<<20, 64)
	seg, err := shm.Create("arena-nospace", int64(meta+data)+4*shm.ObjectHeaderSize, shm.WithDir(dir), shm.WithSparse(int64(data-arena.PageSize)))
	if err != nil {
		t.Fatalf("a 64 MiB sparse segment on a 2 MiB tmpfs: %v", err)
	}
	defer seg.Close()
	defer seg.Unlink()
	a, err := arena.Create(seg, "a.m", "a.d", 64<<20, 64, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.TryAlloc(8 << 20); !errors.Is(err, arena.ErrNoSpace) {
		t.Fatalf("8 MiB on a 2 MiB tmpfs: %v, want ErrNoSpace", err)
	}
	if a.Used() != 0 {
		t.Fatalf("Used %d after a failed allocation", a.Used())
	}
	b, ok, err := a.TryAlloc(64 << 10)
	if !ok || err != nil {
		t.Fatalf("64 KiB: %v %v", ok, err)
	}
	a.Free(b)
}

type childArgs struct {
	Seg  *shm.Segment
	What string
}

// hold reports on the pipe passed as file 0, then waits to be killed.
func hold() {
	process.File(0).Write([]byte{1})
	for {
		unix.Pause()
	}
}

var holdArena = process.Register("arena-hold", func(ctx context.Context, a childArgs) error {
	ar, err := arena.Open(a.Seg, "a.m", "a.d")
	if err != nil {
		return err
	}
	switch a.What {
	case "block":
		if _, _, err := ar.TryAlloc(1 << 20); err != nil {
			return err
		}
	case "lock":
		if err := arena.Lock(ar); err != nil {
			return err
		}
	case "freeing":
		// A reader's Free, killed between the two stores that free
		// the record: the reference goes to the parent from there.
		b, ref, err := takenBlock(ar)
		if err != nil {
			return err
		}
		arena.SetFreeingHook(func() { reportAndHold(ref) })
		return ar.Free(b)
	case "discarding":
		// A consumer's Discard of a given-up slot's reference, killed
		// after its claim of the queued block (take, as Take makes it:
		// owner this process, reading) and before its Free.
		_, ref, err := takenBlock(ar)
		if err != nil {
			return err
		}
		reportAndHold(ref)
	}
	hold()
	return nil
})

// takenBlock allocates a 1 MiB block, publishes it and takes it as its
// reader would, and returns it with its encoded reference.
func takenBlock(ar *arena.Arena) (arena.Block, []byte, error) {
	b, ok, err := ar.TryAlloc(1 << 20)
	if !ok || err != nil {
		return b, nil, fmt.Errorf("TryAlloc: %v %v", ok, err)
	}
	ar.Publish(b)
	if b, err = ar.Take(b); err != nil {
		return b, nil, err
	}
	ref := make([]byte, arena.RefSize)
	arena.EncodeRef(ref, b)
	return b, ref, nil
}

// reportAndHold sends ref to the parent and waits to be killed.
func reportAndHold(ref []byte) {
	process.File(0).Write(ref)
	for {
		unix.Pause()
	}
}

func killHolding(t *testing.T, seg *shm.Segment, what string) {
	t.Helper()
	killAt(t, seg, what, 1)
}

// killAt starts a child that does what, reads the n bytes it reports at
// its kill point, kills it there and returns them.
func killAt(t *testing.T, seg *shm.Segment, what string, n int) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := holdArena.Start(ctx, childArgs{Seg: seg, What: what}, process.WithFiles(w))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("the child never reached its kill point: %v", err)
	}
	p.Kill()
	p.Wait()
	return b
}

// TestDeadHolder: a process killed holding a block gives it back at the
// survivors' Reclaim; one killed holding the lock does not wedge it.
func TestDeadHolder(t *testing.T) {
	seg, a := newArena(t, 8<<20, 64, 1<<20)
	mine, ok, err := a.TryAlloc(10)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	killHolding(t, seg, "block")
	if a.Used() != arena.PageSize+1<<20 {
		t.Fatalf("Used %d with the dead process's block, want %d", a.Used(), arena.PageSize+1<<20)
	}
	if n, err := a.Reclaim(); n != 1 || err != nil {
		t.Fatalf("Reclaim: %d, %v; want the dead process's block", n, err)
	}
	if a.Used() != arena.PageSize {
		t.Fatalf("Used %d after the reclaim, want this process's page", a.Used())
	}
	killHolding(t, seg, "lock")
	b, ok, err := a.TryAlloc(1 << 20) // takes the lock over from the dead holder
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	a.Free(b)
	a.Free(mine)
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// killedRef kills a child at point (see holdArena) and returns the block
// reference it reported there.
func killedRef(t *testing.T, seg *shm.Segment, point string) arena.Block {
	t.Helper()
	ref, err := arena.DecodeRef(killAt(t, seg, point, arena.RefSize))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestReaderKilledFreeing: a reader killed in the middle of its Free had
// finished with the block; the process that adopts its message finds the
// reference stale, and the block comes back once a survivor takes the lock
// over from the dead freer, instead of staying allocated for good.
func TestReaderKilledFreeing(t *testing.T) {
	seg, a := newArena(t, 8<<20, 64, 1<<20)
	ref := killedRef(t, seg, "freeing")
	if _, err := a.Take(ref); !errors.Is(err, arena.ErrStale) {
		t.Fatalf("the adopter's Take of a block its dead reader was freeing: %v, want ErrStale", err)
	}
	if _, err := a.Reclaim(); err != nil { // takes the lock over from the dead freer
		t.Fatal(err)
	}
	if a.Used() != 0 {
		t.Fatalf("Used %d after a reader was killed freeing its block, want 0: the block leaks", a.Used())
	}
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
	b, ok, err := a.TryAlloc(8 << 20) // the whole arena: nothing left behind
	if !ok || err != nil {
		t.Fatalf("TryAlloc of the whole arena: %v %v", ok, err)
	}
	a.Free(b)
}

// TestTake: a published block is taken once; a stale or forged reference
// is refused.
func TestTake(t *testing.T) {
	_, a := newArena(t, 1<<20, 64, 1<<20)
	b, _, _ := a.TryAlloc(5000)
	var ref [arena.RefSize]byte
	arena.EncodeRef(ref[:], b)
	a.Publish(b)
	got, err := arena.DecodeRef(ref[:])
	if err != nil {
		t.Fatal(err)
	}
	got, err = a.Take(got)
	if err != nil || got != b {
		t.Fatalf("Take: %+v %v, want %+v", got, err, b)
	}
	if _, err := a.Take(got); !errors.Is(err, arena.ErrCorrupt) {
		t.Fatalf("second Take: %v, want ErrCorrupt", err)
	}
	a.Free(got)
	if _, err := a.Take(got); !errors.Is(err, arena.ErrStale) {
		t.Fatalf("Take after Free: %v, want ErrStale", err)
	}
	forged := b
	forged.Start = 1 << 30
	if _, err := a.Take(forged); !errors.Is(err, arena.ErrCorrupt) {
		t.Fatalf("Take of pages out of range: %v, want ErrCorrupt", err)
	}
	forged = b
	forged.Index = 1 << 20
	if _, err := a.Take(forged); !errors.Is(err, arena.ErrCorrupt) {
		t.Fatalf("Take of a record out of range: %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeRef: any bytes decode to a reference or ErrCorrupt, and a
// decoded reference round-trips.
func FuzzDecodeRef(f *testing.F) {
	var ref [arena.RefSize]byte
	arena.EncodeRef(ref[:], arena.Block{Index: 3, Gen: 9, Start: 17, Len: 12345})
	f.Add(ref[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := arena.DecodeRef(b)
		if err != nil {
			if !errors.Is(err, arena.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		var again [arena.RefSize]byte
		arena.EncodeRef(again[:], blk)
		if string(again[:]) != string(b[:arena.RefSize]) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b[:arena.RefSize], blk, again)
		}
	})
}

// FuzzMetadata: metadata of any content (bar a held lock word) gives
// ErrCorrupt or works; never a panic or an access out of range.
func FuzzMetadata(f *testing.F) {
	const pages, records = 64, 8
	good := make([]byte, arena.MetaSize(pages, records))
	binary.LittleEndian.PutUint32(good[arena.OffPages:], pages)
	binary.LittleEndian.PutUint32(good[arena.OffRecords:], records)
	f.Add(good, uint16(0), []byte{0xff})
	f.Add(good, uint16(200), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, meta []byte, at uint16, junk []byte) {
		m := make([]uint64, (len(meta)+7)/8) // 8-aligned
		mb := unsafeBytes(m)[:len(meta)]
		copy(mb, meta)
		if int(at) < len(mb) {
			copy(mb[at:], junk)
		}
		if len(mb) >= arena.OffLock+8 {
			clear(mb[arena.OffLock : arena.OffLock+8]) // a live holder would make every call wait
		}
		data := make([]byte, arena.DataSize(pages))
		a, err := arena.Attach(mb, data)
		if err != nil {
			if !errors.Is(err, arena.ErrCorrupt) {
				t.Fatalf("Attach: %v does not match ErrCorrupt", err)
			}
			return
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, arena.ErrCorrupt) && !errors.Is(err, arena.ErrStale) && !strings.Contains(err.Error(), "-byte arena") {
				t.Fatalf("%v matches neither ErrCorrupt nor ErrStale", err)
			}
		}
		b, ok, err := a.TryAlloc(3 * arena.PageSize)
		check(err)
		if ok {
			_ = a.Bytes(b)
			check(a.Free(b))
		}
		for i := range uint32(records + 1) {
			_, err := a.Take(arena.Block{Index: i, Start: i, Len: 100})
			check(err)
		}
		_, err = a.Reclaim()
		check(err)
		_ = a.Used()
		_ = a.Backed()
	})
}

// FuzzHostile: an arena in use whose lock was left by a dead holder, one
// of whose records holds hostile values, and a hostile reference: the
// lock is taken over and the state rebuilt or refused, and every call
// gives ErrCorrupt, ErrStale or works; a taken block's bytes lie inside
// the data. Never a panic, an access out of range or a hang.
func FuzzHostile(f *testing.F) {
	const pages, records = 64, 8
	f.Add(uint8(1), uint64(1), uint32(0), uint32(3), uint32(2), []byte{})
	f.Add(uint8(2), uint64(0), uint32(7), uint32(60), uint32(10), []byte{0x41, 0x52, 0x45, 0x46})
	f.Add(uint8(0), uint64(1<<62), uint32(1), uint32(1<<31), uint32(1<<31), make([]byte, arena.RefSize))
	f.Fuzz(func(t *testing.T, rec uint8, owner uint64, gen, start, np uint32, ref []byte) {
		m := make([]uint64, (arena.MetaSize(pages, records)+7)/8)
		meta := unsafeBytes(m)[:arena.MetaSize(pages, records)]
		binary.LittleEndian.PutUint32(meta[arena.OffPages:], pages)
		binary.LittleEndian.PutUint32(meta[arena.OffRecords:], records)
		data := make([]byte, arena.DataSize(pages))
		a, err := arena.Attach(meta, data)
		if err != nil {
			t.Fatal(err)
		}
		var held []arena.Block
		for _, n := range []int{100, 3 * arena.PageSize, 5000} {
			b, ok, err := a.TryAlloc(n)
			if !ok || err != nil {
				t.Fatalf("TryAlloc(%d) on a fresh arena: %v %v", n, ok, err)
			}
			a.Publish(b)
			held = append(held, b)
		}
		// The hostile record, and a lock whose holder is dead (a word
		// whose process cannot exist: PID field 2^22-1 is past pid_max).
		r := arena.OffRecords0 + int(rec%records)*arena.RecordSize
		binary.LittleEndian.PutUint64(meta[r:], owner)
		binary.LittleEndian.PutUint32(meta[r+8:], gen)
		binary.LittleEndian.PutUint32(meta[r+12:], start)
		binary.LittleEndian.PutUint32(meta[r+16:], np)
		binary.LittleEndian.PutUint64(meta[arena.OffLock:], arena.DeadWord)
		ok := func(err error) bool {
			if err != nil && !errors.Is(err, arena.ErrCorrupt) && !errors.Is(err, arena.ErrStale) && !strings.Contains(err.Error(), "-byte arena") {
				t.Fatalf("%v matches neither ErrCorrupt nor ErrStale", err)
			}
			return err == nil
		}
		inside := func(b []byte) {
			if len(b) > 0 && (uintptr(unsafe.Pointer(&b[0])) < uintptr(unsafe.Pointer(&data[0])) || uintptr(unsafe.Pointer(&b[len(b)-1])) > uintptr(unsafe.Pointer(&data[len(data)-1]))) {
				t.Fatalf("a block's bytes lie outside the data")
			}
		}
		if b, err := arena.DecodeRef(ref); ok(err) {
			if b, err := a.Take(b); ok(err) {
				inside(a.Bytes(b))
				ok(a.Free(b))
			}
		}
		for _, b := range held {
			if b, err := a.Take(b); ok(err) {
				inside(a.Bytes(b))
				ok(a.Free(b))
			}
		}
		if b, got, err := a.TryAlloc(2 * arena.PageSize); ok(err) && got {
			inside(a.Bytes(b))
			ok(a.Free(b))
		}
		_, err = a.Reclaim()
		ok(err)
	})
}

// TestCorruptRecordKeepsLiveBlocks: a lock taken over from a dead holder
// whose rebuild meets a corrupt record is ErrCorrupt, and the calls after
// it never hand out the pages of the blocks still live.
func TestCorruptRecordKeepsLiveBlocks(t *testing.T) {
	const pages, records = 64, 8
	m := make([]uint64, (arena.MetaSize(pages, records)+7)/8)
	meta := unsafeBytes(m)[:arena.MetaSize(pages, records)]
	binary.LittleEndian.PutUint32(meta[arena.OffPages:], pages)
	binary.LittleEndian.PutUint32(meta[arena.OffRecords:], records)
	a, err := arena.Attach(meta, make([]byte, arena.DataSize(pages)))
	if err != nil {
		t.Fatal(err)
	}
	var live []arena.Block
	for range 3 {
		b, ok, err := a.TryAlloc(4 * arena.PageSize)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		a.Publish(b)
		live = append(live, b)
	}
	// The first block's record says pages past the end, and the lock's
	// holder is dead: the next taker rebuilds, and meets the record first.
	r := arena.OffRecords0 + int(live[0].Index)*arena.RecordSize
	binary.LittleEndian.PutUint32(meta[r+12:], 1<<20)
	binary.LittleEndian.PutUint64(meta[arena.OffLock:], arena.DeadWord)
	live = live[1:]
	if _, _, err := a.TryAlloc(arena.PageSize); !errors.Is(err, arena.ErrCorrupt) {
		t.Fatalf("TryAlloc over a corrupt record: %v, want ErrCorrupt", err)
	}
	for {
		b, ok, err := a.TryAlloc(arena.PageSize)
		if !ok || err != nil {
			break
		}
		for _, l := range live {
			if b.Start >= l.Start && b.Start < l.Start+4 {
				t.Fatalf("TryAlloc after the failed rebuild handed out page %d, of the live block at pages %d+4", b.Start, l.Start)
			}
		}
	}
	for _, l := range live {
		if _, err := a.Take(l); err != nil {
			t.Fatalf("Take of a live block: %v", err)
		}
	}
}

// TestDiscard: Discard frees a queued block its current reference names,
// and leaves alone every other reference a given-up slot may hold: one
// made stale by a free, one to a block its producer still holds, one to a
// block being read.
func TestDiscard(t *testing.T) {
	_, a := newArena(t, 1<<20, 64, 1<<20)
	alloc := func() arena.Block {
		t.Helper()
		b, ok, err := a.TryAlloc(5000)
		if !ok || err != nil {
			t.Fatalf("TryAlloc: %v %v", ok, err)
		}
		return b
	}
	queued := alloc()
	a.Publish(queued)
	if !a.Discard(queued) {
		t.Fatal("Discard of a queued block: not freed")
	}
	if a.Used() != 0 {
		t.Fatalf("Used %d after the Discard, want 0", a.Used())
	}
	if a.Discard(queued) {
		t.Fatal("Discard of a stale reference freed something")
	}
	held := alloc() // its producer's, not yet published
	if a.Discard(held) {
		t.Fatal("Discard freed a block its producer holds")
	}
	read := alloc()
	a.Publish(read)
	if _, err := a.Take(read); err != nil {
		t.Fatal(err)
	}
	if a.Discard(read) {
		t.Fatal("Discard freed a block being read")
	}
	if want := int64(4 * arena.PageSize); a.Used() != want {
		t.Fatalf("Used %d, want %d: the two live blocks", a.Used(), want)
	}
	for _, b := range []arena.Block{held, read} {
		if err := a.Free(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := arena.Check(a); err != nil {
		t.Fatal(err)
	}
}

// TestDiscarderKilled: a consumer killed inside Discard, between its claim
// of the queued block and the Free, leaves the block owned by a dead
// reader. The consumer that adopts its claim on the given-up slot runs
// Discard on the same reference, which takes the block over and frees it
// (Reclaim leaves a dead reader's block to the reader's successor). It
// refused a dead reader's block, which leaked: the 4 MiB leak
// TestProducerKilledAfterPublish is about, in a narrower window.
func TestDiscarderKilled(t *testing.T) {
	seg, a := newArena(t, 8<<20, 64, 1<<20)
	ref := killedRef(t, seg, "discarding")
	freed := a.Discard(ref) // the adopter's skip of the same slot
	if _, err := a.Reclaim(); err != nil {
		t.Fatal(err)
	}
	if a.Used() != 0 {
		t.Fatalf("Used %d after a consumer was killed discarding the block (adopter's Discard: %v), want 0: the block leaks", a.Used(), freed)
	}
}
