package arena

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/shm"
)

// Arena is a page-granular allocator over a sparse region of a segment,
// shared by every process that maps the segment: any of them allocates and
// frees. It is a first-fit allocator over a bitmap of pages (Knuth, TAOCP
// vol. 1 §2.5, first fit; the bitmap as in the page-frame allocators of
// early Unix), its metadata guarded by one process-shared lock whose
// word holds the holder's procinfo word: a process that finds the holder
// dead takes the lock over and rebuilds the bitmap from the block records
// (the records are the truth, the bitmap their index; see layout.go).
//
// Each block has a record whose owner word says who answers for it: the
// process that allocated it (until it publishes it), "queued" (a message
// holds it: whoever takes the message frees it), or a process reading it.
// Reclaim frees the blocks whose allocating process died; a block a reader
// died holding stays for the reader's successor to Take over, as a ring's
// dead consumer's claim does.
//
// Pages are reserved (madvise MADV_POPULATE_WRITE) when a block first
// covers them, so a full /dev/shm is ErrNoSpace at allocation, never a
// SIGBUS at the write; freed pages stay reserved for the next block (no
// page faults or zeroing per message) until the reserved-but-free pages
// pass the high-water mark, when they are given back (MADV_REMOVE).
// Memory so grows with use, not with the arena's size.
//
// An *Arena is safe for concurrent use. Its zero value is not usable.
type Arena struct {
	meta, data []byte
	pages      int
	recs       []record // views of shared memory: access fields atomically
	usedMap    []atomic.Uint64
	backedMap  []atomic.Uint64
	lock       *atomic.Uint64
	used       *atomic.Uint32
	backed     *atomic.Uint32
	recRover   *atomic.Uint32
	highWater  int
	me         uint64
}

// Block is an allocated block: its record, the record's generation, its
// first page and its length in bytes.
type Block struct {
	Index, Gen, Start uint32
	Len               int
}

// pagesFor is the pages an n-byte block takes (at least one).
func pagesFor(n int) int { return max(1, (n+PageSize-1)/PageSize) }

// Sizes returns the metadata and data object body sizes of an arena of
// size bytes (rounded up to pages) with records block records.
func Sizes(size int64, records int) (meta, data int) {
	pages := int((size + PageSize - 1) / PageSize)
	return metaSize(pages, records), dataSize(pages)
}

// Placements are the objects Create places for an arena of size bytes
// and records records, in order, with their bodies' sizes: what a caller
// placing it with other objects asks shm.Segment.CanAlloc room for.
func Placements(metaName, dataName string, size int64, records int) []shm.Placement {
	meta, data := Sizes(size, records)
	return []shm.Placement{{Name: metaName, BodySize: meta}, {Name: dataName, BodySize: data}}
}

// Records is the most block records an arena of size bytes can use, at
// most want: no more than its pages, since a block takes one at least, nor
// than an arena holds. A caller that wants a record for every message it
// may hold asks no more than that.
func Records(size int64, want int) int {
	pages := (size + PageSize - 1) / PageSize
	return int(min(int64(want), pages, maxRecords))
}

// CheckSize refuses an arena Create would refuse for its size or its records,
// before anything is placed.
func CheckSize(size int64, records int) error {
	pages := (size + PageSize - 1) / PageSize
	if pages <= 0 || pages > maxPages || records <= 0 || records > maxRecords {
		return fmt.Errorf("arena: %d bytes and %d records outside 1..%d pages and 1..%d records", size, records, maxPages, maxRecords)
	}
	return nil
}

// Create makes an arena of size bytes (rounded up to whole pages) that
// holds at most records blocks at a time, as the objects metaName and
// dataName of seg, the data object last. The data object is sparse: it
// belongs in the sparse tail of a segment made with shm.WithSparse (of at
// most its body size, Sizes), and must be the last object placed in it;
// elsewhere its pages were reserved at the segment's creation, which is
// correct but costs the memory up front. highWater is how many bytes of freed pages stay
// reserved for reuse.
func Create(seg *shm.Segment, metaName, dataName string, size int64, records int, highWater int64) (*Arena, error) {
	if err := CheckSize(size, records); err != nil {
		return nil, err
	}
	pages := (size + PageSize - 1) / PageSize
	metaLen, dataLen := Sizes(size, records)
	hw := min(uint32(highWater/PageSize), uint32(pages))
	mobj, err := seg.Alloc(metaName, shm.ObjectSpec{Kind: shm.KindArena, Version: layoutVersion, Capacity: uint64(pages), BodySize: metaLen}, func(body []byte) error {
		binary.LittleEndian.PutUint32(body[offPages:], uint32(pages))
		binary.LittleEndian.PutUint32(body[offRecords:], uint32(records))
		binary.LittleEndian.PutUint32(body[offHighWater:], hw)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("arena %q: %w", metaName, err)
	}
	// The data object last: the segment's sparse tail is its end.
	dobj, err := seg.Alloc(dataName, shm.ObjectSpec{Kind: shm.KindArenaData, Version: layoutVersion, Capacity: uint64(pages), BodySize: dataLen, Sparse: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("arena %q: %w", metaName, err)
	}
	return attach(mobj.Body, dobj.Body)
}

// Open finds the arena Create made as metaName and dataName in seg.
func Open(seg *shm.Segment, metaName, dataName string) (*Arena, error) {
	msp := shm.ObjectSpec{Kind: shm.KindArena, Version: layoutVersion}
	mobj, err := seg.Lookup(metaName, &msp)
	if err != nil {
		return nil, fmt.Errorf("arena: %w", err)
	}
	dsp := shm.ObjectSpec{Kind: shm.KindArenaData, Version: layoutVersion}
	dobj, err := seg.Lookup(dataName, &dsp)
	if err != nil {
		return nil, fmt.Errorf("arena: %w", err)
	}
	return attach(mobj.Body, dobj.Body)
}

// attach checks the config line against the two bodies and views them.
// It is the one place in this package that turns shared memory into
// typed pointers.
func attach(meta, data []byte) (*Arena, error) {
	if len(meta) < offRecords0 || uintptr(unsafe.Pointer(unsafe.SliceData(meta)))%8 != 0 {
		return nil, fmt.Errorf("%w: arena metadata of %d bytes", ErrCorrupt, len(meta))
	}
	pages := binary.LittleEndian.Uint32(meta[offPages:])
	nrec := binary.LittleEndian.Uint32(meta[offRecords:])
	if err := checkConfig(pages, nrec, len(meta), len(data)); err != nil {
		return nil, err
	}
	skip := int((PageSize - uintptr(unsafe.Pointer(unsafe.SliceData(data)))%PageSize) % PageSize)
	words := (int(pages) + 63) / 64
	offMaps := offRecords0 + int(nrec)*recordSize
	a := &Arena{
		meta:      meta,
		data:      data[skip : skip+int(pages)*PageSize : skip+int(pages)*PageSize],
		pages:     int(pages),
		recs:      unsafe.Slice((*record)(unsafe.Pointer(&meta[offRecords0])), nrec),
		usedMap:   unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&meta[offMaps])), words),
		backedMap: unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&meta[offMaps+8*words])), words),
		lock:      (*atomic.Uint64)(unsafe.Pointer(&meta[offLock])),
		used:      (*atomic.Uint32)(unsafe.Pointer(&meta[offUsed])),
		backed:    (*atomic.Uint32)(unsafe.Pointer(&meta[offBacked])),
		recRover:  (*atomic.Uint32)(unsafe.Pointer(&meta[offRecRover])),
		highWater: int(min(binary.LittleEndian.Uint32(meta[offHighWater:]), pages)),
		me:        procinfo.Self().Word(),
	}
	return a, nil
}

// record field accessors: every access to a record is atomic.
func (a *Arena) owner(i uint32) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&a.recs[i].Owner))
}
func (a *Arena) gen(i uint32) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&a.recs[i].Gen)) }
func (a *Arena) start(i uint32) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&a.recs[i].Start))
}
func (a *Arena) npages(i uint32) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&a.recs[i].Pages))
}

// Size returns the arena's size in bytes: the largest block it can hold.
func (a *Arena) Size() int64 { return int64(a.pages) * PageSize }

// Used returns the bytes of the pages allocated now (a snapshot).
func (a *Arena) Used() int64 { return int64(min(int(a.used.Load()), a.pages)) * PageSize }

// Backed returns the bytes of the pages reserved now, allocated or kept
// for reuse (a snapshot).
func (a *Arena) Backed() int64 { return int64(min(int(a.backed.Load()), a.pages)) * PageSize }

// Bytes returns block b's bytes, in shared memory. b must come from
// TryAlloc or Take on a; its bounds were checked there.
func (a *Arena) Bytes(b Block) []byte {
	off := int(b.Start) * PageSize
	return a.data[off : off+b.Len : off+b.Len]
}

// TryAlloc allocates an n-byte block held by this process. ok is false
// when the arena has no run of free pages (or no free record) long enough
// now: the caller waits for a Free, or calls Reclaim. A block larger than
// the arena is an error; so is ErrNoSpace, when /dev/shm cannot back the
// pages.
func (a *Arena) TryAlloc(n int) (b Block, ok bool, err error) {
	if n < 0 || int64(n) > a.Size() {
		return Block{}, false, fmt.Errorf("arena: %d-byte block in a %d-byte arena", n, a.Size())
	}
	np := pagesFor(n)
	if err := a.acquire(); err != nil {
		return Block{}, false, err
	}
	defer a.release()
	if int(a.used.Load())+np > a.pages {
		return Block{}, false, nil
	}
	idx, found := a.freeRecord()
	if !found {
		return Block{}, false, nil
	}
	start, found := a.findRun(np)
	if !found {
		return Block{}, false, nil
	}
	if err := a.reserve(start, np); err != nil {
		return Block{}, false, err
	}
	// A generation of its own for every allocation, not only the one
	// its last free left: a freer killed between clearing the owner and
	// bumping the generation leaves the old one, and a reference to the
	// old block must not name the new one.
	g := a.gen(idx).Add(1)
	a.start(idx).Store(uint32(start))
	a.npages(idx).Store(uint32(np))
	a.owner(idx).Store(a.me) // publishes: the record (a rebuild counts it from here)
	a.setRun(start, np, true)
	a.used.Add(uint32(np))
	return Block{Index: idx, Gen: g, Start: uint32(start), Len: n}, true, nil
}

// freeRecord finds a free record, from the record rover on. Lock held.
func (a *Arena) freeRecord() (uint32, bool) {
	n := uint32(len(a.recs))
	r := a.recRover.Load() % n
	for k := range n {
		i := (r + k) % n
		if a.owner(i).Load() == ownerFree {
			a.recRover.Store(i + 1)
			return i, true
		}
	}
	return 0, false
}

// findRun finds np free pages in a row, first fit: the lowest run, so
// that blocks reuse the pages freed last, which are still reserved (next
// fit, tried first, walked the whole arena and paid a page fault and a
// zeroed page for every page of every message until it wrapped). Lock
// held.
func (a *Arena) findRun(np int) (int, bool) {
	return a.scan(0, a.pages, np)
}

// scan looks for np clear bits of usedMap in [lo, hi), a word at a time
// where a word is all set or all clear.
func (a *Arena) scan(lo, hi, np int) (int, bool) {
	run, start := 0, lo
	for p := lo; p < hi; {
		w := a.usedMap[p/64].Load()
		if p%64 == 0 && p+64 <= hi {
			switch w {
			case 0:
				if run == 0 {
					start = p
				}
				run += 64
				if run >= np {
					return start, true
				}
				p += 64
				continue
			case ^uint64(0):
				run = 0
				p += 64
				continue
			}
		}
		if w&(1<<(p%64)) != 0 {
			run = 0
		} else {
			if run == 0 {
				start = p
			}
			run++
			if run >= np {
				return start, true
			}
		}
		p++
	}
	return 0, false
}

// setRun sets (or clears) the bits of pages [start, start+np) in usedMap.
func (a *Arena) setRun(start, np int, set bool) { setBits(a.usedMap, start, np, set) }

func setBits(m []atomic.Uint64, start, np int, set bool) {
	for p := start; p < start+np; {
		w, b := p/64, p%64
		k := min(64-b, start+np-p)
		mask := ^uint64(0)
		if k < 64 {
			mask = (uint64(1)<<k - 1) << b
		}
		if set {
			m[w].Or(mask)
		} else {
			m[w].And(^mask)
		}
		p += k
	}
}

// reserve backs the pages of [start, start+np) that are not backed yet.
// Lock held.
func (a *Arena) reserve(start, np int) error {
	for p := start; p < start+np; {
		if a.backedMap[p/64].Load()&(1<<(p%64)) != 0 {
			p++
			continue
		}
		q := p + 1
		for q < start+np && a.backedMap[q/64].Load()&(1<<(q%64)) == 0 {
			q++
		}
		if err := populate(a.data[p*PageSize : q*PageSize]); err != nil {
			return err
		}
		setBits(a.backedMap, p, q-p, true)
		a.backed.Add(uint32(q - p))
		p = q
	}
	return nil
}

// Publish hands b from this process to the message that will carry it:
// from now on whoever Takes the message answers for b, and Reclaim leaves
// it alone even after this process dies.
func (a *Arena) Publish(b Block) {
	a.owner(b.Index).CompareAndSwap(a.me, ownerQueued) // me → queued
}

// Take makes this process the reader of the block a message references:
// it checks the reference against the records (the message came from
// shared memory) and claims the block from "queued", or from a reader that
// died holding it. ErrStale means the block was freed since.
func (a *Arena) Take(b Block) (Block, error) {
	if b.Index >= uint32(len(a.recs)) {
		return Block{}, fmt.Errorf("%w: block reference to record %d of %d", ErrCorrupt, b.Index, len(a.recs))
	}
	np := pagesFor(b.Len)
	if int(b.Start)+np > a.pages || b.Len < 0 {
		return Block{}, fmt.Errorf("%w: block reference to pages %d+%d of %d", ErrCorrupt, b.Start, np, a.pages)
	}
	i := b.Index
	for {
		o := a.owner(i).Load()
		if a.gen(i).Load() != b.Gen || o == ownerFree {
			return Block{}, ErrStale
		}
		if a.start(i).Load() != b.Start || int(a.npages(i).Load()) < np {
			return Block{}, fmt.Errorf("%w: block reference to pages %d+%d, its record holds %d+%d", ErrCorrupt, b.Start, np, a.start(i).Load(), a.npages(i).Load())
		}
		switch {
		case o == ownerQueued, o&readBit != 0 && !procinfo.AliveWord(o&^readBit):
			// queued → me reading; dead reader → me reading (adoption).
		default:
			return Block{}, fmt.Errorf("%w: block %d taken twice (owner %#x)", ErrCorrupt, i, o)
		}
		if !a.owner(i).CompareAndSwap(o, a.me|readBit) {
			continue
		}
		if a.gen(i).Load() != b.Gen { // freed and reused between the loads and the CAS
			a.owner(i).CompareAndSwap(a.me|readBit, o)
			return Block{}, ErrStale
		}
		return b, nil
	}
}

// Discard frees the block b references when b is its current reference
// and the block is queued: handed to a message that no one will deliver,
// since the ring slot that carried the reference was given up (its
// producer died between Publish and the ring's publication). It reports
// whether it freed the block. A block whose reader died is freed too, as
// Take takes it over: the only such reader a given-up slot's current
// reference can name is a consumer killed inside its own Discard of the
// slot, whose claim the caller adopted (TestDiscarderKilled). Any other
// reference is left alone, without an error: a given-up slot holds
// whatever its producer wrote before it stopped, or what a lap before
// left there, so a reference read from one may be stale, half written, or
// name a block a live reader holds.
func (a *Arena) Discard(b Block) bool {
	if _, err := a.Take(b); err != nil {
		return false
	}
	return a.Free(b) == nil
}

// Free frees block b, which this process holds (TryAlloc, or Take).
func (a *Arena) Free(b Block) error {
	if b.Index >= uint32(len(a.recs)) {
		return fmt.Errorf("%w: free of record %d of %d", ErrCorrupt, b.Index, len(a.recs))
	}
	if err := a.acquire(); err != nil {
		return err
	}
	defer a.release()
	if a.gen(b.Index).Load() != b.Gen {
		return ErrStale
	}
	if err := a.freeLocked(b.Index); err != nil {
		return err
	}
	a.trim()
	return nil
}

// testHookFreeing, when set (by tests), runs in the middle of a free,
// between the two stores that free the record, with the lock held.
var testHookFreeing func()

// freeLocked frees record i: owner cleared first (a rebuild no longer
// counts it), then its generation bumped (references to it are stale),
// then its pages. Lock held. The owner goes first: a freer killed after
// bumping the generation and before clearing the owner left a reader's
// record whose references were all stale, which no Take adopted and no
// Reclaim freed, allocated for good; killed between the two stores now,
// it leaves a free record (TryAlloc gives the next block a generation of
// its own) whose references Take finds stale too.
func (a *Arena) freeLocked(i uint32) error {
	s, np := int(a.start(i).Load()), int(a.npages(i).Load())
	if np <= 0 || s+np > a.pages {
		return fmt.Errorf("%w: record %d holds pages %d+%d of %d", ErrCorrupt, i, s, np, a.pages)
	}
	a.owner(i).Store(ownerFree) // publishes: the record is free
	if testHookFreeing != nil {
		testHookFreeing() // a kill point: between the record's two stores
	}
	a.gen(i).Add(1)
	a.setRun(s, np, false)
	if u := a.used.Load(); u >= uint32(np) {
		a.used.Store(u - uint32(np))
	} else {
		a.used.Store(0)
	}
	return nil
}

// trim gives back the reserved free pages past the high-water mark, the
// highest first: first fit hands out the lowest free pages, so those stay
// reserved for the next blocks (giving back the lowest made a stream that
// swung past the mark reserve again, and every reader of the block fault
// in again, the pages it had just given back). Lock held.
func (a *Arena) trim() {
	used, backed := int(a.used.Load()), int(a.backed.Load())
	if backed-used <= a.highWater {
		return
	}
	goal := backed - used - a.highWater
	for w := len(a.backedMap) - 1; w >= 0 && goal > 0; w-- {
		free := a.backedMap[w].Load() &^ a.usedMap[w].Load()
		if hi := a.pages - w*64; hi < 64 {
			free &= uint64(1)<<hi - 1 // bits past the last page
		}
		for free != 0 && goal > 0 {
			// The highest run of free pages in the word, [b, e), at
			// most goal pages of it (its top ones).
			e := 64 - bits.LeadingZeros64(free)
			b := e - bits.LeadingZeros64(^(free << (64 - e))) // a run of e ones has no zero below the shift
			if e-b > goal {
				b = e - goal
			}
			k := e - b
			p := w*64 + b
			// Unmark first: a page marked backed is never a hole.
			setBits(a.backedMap, p, k, false)
			a.backed.Add(^uint32(k - 1))
			unpopulate(a.data[p*PageSize : (p+k)*PageSize])
			goal -= k
			free &^= (^uint64(0) >> (64 - e)) &^ (uint64(1)<<b - 1)
		}
	}
}

// Reclaim frees the blocks held by processes that died before publishing
// them, and returns how many it freed. A block a reader died holding is
// left for the reader's successor (Take).
func (a *Arena) Reclaim() (int, error) {
	if err := a.acquire(); err != nil {
		return 0, err
	}
	defer a.release()
	n := 0
	dead := map[uint64]bool{}
	for i := range uint32(len(a.recs)) {
		o := a.owner(i).Load()
		if o == ownerFree || o == ownerQueued || o&readBit != 0 || o == a.me {
			continue
		}
		d, seen := dead[o]
		if !seen {
			d = !procinfo.AliveWord(o)
			dead[o] = d
		}
		if d {
			if err := a.freeLocked(i); err != nil {
				return n, err
			}
			n++
		}
	}
	if n > 0 {
		a.trim()
	}
	return n, nil
}

// acquire takes the metadata lock: CAS 0 → this process's word; a holder
// found dead is replaced (CAS its word → ours) and the derived state is
// rebuilt from the records. Holders keep the lock for a bitmap scan and,
// at most, a madvise, so waiters spin (yielding the processor) rather than
// park.
func (a *Arena) acquire() error {
	for spins := 1; ; spins++ {
		h := a.lock.Load()
		if h == 0 {
			if a.lock.CompareAndSwap(0, a.me) { // free → held by this process
				return nil
			}
			continue
		}
		if spins%1024 == 0 && h != a.me && !procinfo.AliveWord(h) {
			if a.lock.CompareAndSwap(h, a.me) { // dead holder → this process
				return a.rebuild()
			}
			continue
		}
		runtime.Gosched()
	}
}

// release frees the lock: held → free.
func (a *Arena) release() { a.lock.Store(0) }

// rebuild derives usedMap, used and backed from the records and the
// backed map after a holder died mid-update. A record whose pages fall
// outside the arena is ErrCorrupt; so are two records over one page. The
// derived state is complete even then, and the lock is released: the
// pages of every record in use, a corrupt one's too as far as they lie
// in the arena, stay out of the next allocations. (A rebuild that
// stopped at the first corrupt record left the pages of the records
// after it free in usedMap, and the next TryAlloc, finding the lock free
// and nothing to rebuild, handed out the pages of live blocks:
// TestCorruptRecordKeepsLiveBlocks.)
func (a *Arena) rebuild() error {
	err := a.rebuildLocked()
	if err != nil {
		a.release()
	}
	return err
}

func (a *Arena) rebuildLocked() error {
	for i := range a.usedMap {
		a.usedMap[i].Store(0)
	}
	var bad error
	for i := range uint32(len(a.recs)) {
		if a.owner(i).Load() == ownerFree {
			continue
		}
		s, np := int(a.start(i).Load()), int(a.npages(i).Load())
		if np <= 0 || s+np > a.pages || s < 0 {
			if bad == nil {
				bad = fmt.Errorf("%w: record %d holds pages %d+%d of %d", ErrCorrupt, i, s, np, a.pages)
			}
			if np <= 0 || s >= a.pages {
				continue
			}
			np = a.pages - s // what of it lies in the arena
		}
		for p := s; p < s+np && bad == nil; p++ {
			if a.usedMap[p/64].Load()&(1<<(p%64)) != 0 {
				bad = fmt.Errorf("%w: page %d held by two records (one is %d)", ErrCorrupt, p, i)
			}
		}
		a.setRun(s, np, true)
	}
	used, backed := 0, 0
	for i := range a.usedMap {
		used += bits.OnesCount64(a.usedMap[i].Load())
		backed += bits.OnesCount64(a.backedMap[i].Load())
	}
	a.used.Store(uint32(used))
	a.backed.Store(uint32(backed))
	return bad
}

// check is the invariant checker: the derived state agrees with the
// records. Run it on a quiet arena.
func (a *Arena) check() error {
	if err := a.acquire(); err != nil {
		return err
	}
	defer a.release()
	want := make([]uint64, len(a.usedMap))
	used := 0
	for i := range uint32(len(a.recs)) {
		if a.owner(i).Load() == ownerFree {
			continue
		}
		s, np := int(a.start(i).Load()), int(a.npages(i).Load())
		if np <= 0 || s+np > a.pages {
			return fmt.Errorf("%w: record %d holds pages %d+%d of %d", ErrCorrupt, i, s, np, a.pages)
		}
		for p := s; p < s+np; p++ {
			if want[p/64]&(1<<(p%64)) != 0 {
				return fmt.Errorf("%w: page %d held twice", ErrCorrupt, p)
			}
			want[p/64] |= 1 << (p % 64)
		}
		used += np
	}
	for i := range want {
		if got := a.usedMap[i].Load(); got != want[i] {
			return fmt.Errorf("%w: used map word %d is %#x, the records say %#x", ErrCorrupt, i, got, want[i])
		}
		if want[i]&^a.backedMap[i].Load() != 0 {
			return fmt.Errorf("%w: used pages not backed in word %d", ErrCorrupt, i)
		}
	}
	if int(a.used.Load()) != used {
		return fmt.Errorf("%w: used %d pages, the records say %d", ErrCorrupt, a.used.Load(), used)
	}
	return nil
}
