package arena

import (
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// cacheLine separates the words written by different parties: the lock
// word (every allocator and freer) from the counters (the lock holder).
// It equals shm.CacheLine.
const cacheLine = shm.CacheLine

// PageSize is the allocation unit: every block is a whole number of pages,
// so that a block's pages are reserved (madvise MADV_POPULATE_WRITE) and
// given back (MADV_REMOVE) on their own.
const PageSize = 4096

// layoutVersion is the arena metadata object's layout version.
const layoutVersion = 1

// An arena is two objects in one segment: its metadata (shm.KindArena,
// ordinary reserved memory) and its pages (shm.KindArenaData, a sparse
// object in the segment's sparse tail: shm.WithSparse). All words are
// little-endian and accessed atomically.
//
// metadata object body:
//
//	  0 +----------------------------------------------------------+
//	    | pages u32 | records u32 | highWater u32 | (pad)          | config, written once
//	 64 +----------------------------------------------------------+
//	    | lock u64: holder's procinfo word, 0 = free                | every allocator/freer CASes
//	128 +----------------------------------------------------------+
//	    | used u32 | backed u32 | (pad) u32 | recRover u32         | lock holder writes; Used reads
//	192 +----------------------------------------------------------+
//	    | records: records × 32 bytes                              |
//	    |   0 owner u64  0 free | 1 queued | W (held by process W) |
//	    |                | W|readBit (being read by process W)     |
//	    |   8 gen u32    bumped by every allocation and free       |
//	    |  12 start u32  first page                                |
//	    |  16 pages u32  pages in the block                        |
//	    |  20 (pad 12)                                             |
//	    +----------------------------------------------------------+
//	    | usedMap: ceil(pages/64) u64   bit set = page allocated   | lock holder writes
//	    +----------------------------------------------------------+
//	    | backedMap: ceil(pages/64) u64 bit set = page reserved    | lock holder writes
//	    +----------------------------------------------------------+
//
// data object body: pages × PageSize bytes starting at the first page
// boundary of the body (the body is PageSize longer to leave room for
// that). Nothing in it is metadata: a block's bytes are its holder's.
//
// The records are the truth; usedMap, used and backed are derived from
// them (and from the pages' state) by whoever takes the lock over from a
// dead holder, so a holder killed mid-update leaves nothing to repair by
// hand. A record is claimed by storing its owner last and freed by
// clearing its owner first, so that a rebuild never finds a half-written
// record that it counts.
const (
	offPages     = 0
	offRecords   = 4
	offHighWater = 8
	offLock      = 1 * cacheLine
	offUsed      = 2 * cacheLine
	offBacked    = offUsed + 4
	offRecRover  = offUsed + 12
	offRecords0  = 3 * cacheLine
	recordSize   = 32
	recOwner     = 0
	recGen       = 8
	recStart     = 12
	recPages     = 16

	// maxPages bounds an arena: 2^26 pages are 256 GiB of address space.
	maxPages = 1 << 26
	// maxRecords bounds the blocks held at once.
	maxRecords = 1 << 20
)

// Owner words besides procinfo words (which are at least 2^41: their PID
// field is never 0).
const (
	ownerFree   = 0
	ownerQueued = 1
	readBit     = 1 << 63 // procinfo's hand-off bit, never set in an arena record
)

// record is one block record in Go form.
type record struct {
	Owner uint64
	Gen   uint32
	Start uint32
	Pages uint32
	_     [12]byte
}

// metaSize is the metadata body size of an arena of pages pages and
// records records.
func metaSize(pages, records int) int {
	words := (pages + 63) / 64
	return offRecords0 + records*recordSize + 2*8*words
}

// dataSize is the data body size for pages pages: one page of slack so
// that the first page can start on a page boundary.
func dataSize(pages int) int { return (pages + 1) * PageSize }

// checkConfig validates the config line read from shared memory against
// the bodies it must fit in.
func checkConfig(pages, records uint32, metaLen, dataLen int) error {
	if pages == 0 || pages > maxPages || records == 0 || records > maxRecords {
		return fmt.Errorf("%w: arena of %d pages and %d records", ErrCorrupt, pages, records)
	}
	if metaSize(int(pages), int(records)) > metaLen {
		return fmt.Errorf("%w: arena metadata of %d bytes, %d pages and %d records need %d", ErrCorrupt, metaLen, pages, records, metaSize(int(pages), int(records)))
	}
	if dataSize(int(pages)) > dataLen {
		return fmt.Errorf("%w: arena data of %d bytes, %d pages need %d", ErrCorrupt, dataLen, pages, dataSize(int(pages)))
	}
	return nil
}
