package bridge

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// cacheLine is the unit the journal is laid out by: the header's words and
// each entry start on a line of their own, so that writing one entry never
// shares a line with the header a recovering process reads. It equals
// shm.CacheLine.
const cacheLine = shm.CacheLine

// journalVersion is the journal object's layout version, checked on open.
const journalVersion = 1

// Journal: the body of the object "bridge.<queue name>", a KindBytes
// object with the journal's type fingerprint. It holds the messages a
// Send has taken from its local queue and JetStream has not yet
// acknowledged. Only the bridge process that owns it writes it; a bridge
// that starts after a crash reads it. All words little-endian.
//
//	 0  header line:
//	      0 id u64         random, set at creation: the message-id prefix
//	      8 next u64       next sequence number     [owner writes; recovery reads]
//	     16 owner u64      procinfo word of the bridge using it [CAS: 0 or dead -> self]
//	     24 entries u32    number of entries (Options.Window)
//	     28 payload u32    bytes of payload per entry (the queue's MaxMessage)
//	64  entry 0:
//	      0 state u32      entryFree or entryHeld     [owner writes; recovery reads]
//	      4 length u32     payload bytes
//	      8 seq u64        the message's sequence number: its id is id-seq
//	     16 payload        length bytes of the queue's encoding
//	64+entrySize*i  entry i, entrySize = 16+payload rounded up to a cache line
//
// An entry is published (state entryHeld) after its payload, length and
// sequence number are written, and freed (entryFree) once JetStream has
// acknowledged the message.
const (
	offID      = 0
	offNext    = 8
	offOwner   = 16
	offEntries = 24
	offPayload = 28
	headerSize = cacheLine

	offState   = 0
	offLength  = 4
	offSeq     = 8
	entryHead  = 16
	entryFree  = 0
	entryHeld  = 1
	maxEntries = 1 << 16
)

// journalHeader is the journal's header line (see the layout above).
type journalHeader struct {
	id      atomic.Uint64 // written once, before the object is published
	next    atomic.Uint64 // owner writes; recovery reads
	owner   atomic.Uint64 // CAS by a starting bridge
	entries uint32        // written once
	payload uint32        // written once
}

// entryHeader precedes each entry's payload.
type entryHeader struct {
	state  atomic.Uint32 // owner writes: entryFree <-> entryHeld
	length atomic.Uint32 // owner writes, before state
	seq    atomic.Uint64 // owner writes, before state
}

// entrySize is the size of an entry holding payload bytes.
func entrySize(payload int) int {
	return (entryHead + payload + cacheLine - 1) / cacheLine * cacheLine
}

// journalBody is the body size of a journal of n entries of payload bytes.
func journalBody(n, payload int) int { return headerSize + n*entrySize(payload) }

// journalType fingerprints the journal object: a KindBytes object whose
// TypeID says "bridge journal" rather than plain bytes.
var journalType = shm.TypeID{Size: entryHead, Align: 8, Hash: 0x6272696467656a31} // "bridgej1"

// journalSpec is the object spec of a journal of n entries of payload bytes.
func journalSpec(n, payload int) shm.ObjectSpec {
	return shm.ObjectSpec{Kind: shm.KindBytes, Version: journalVersion, Type: journalType, Capacity: uint64(n), BodySize: journalBody(n, payload)}
}

// journalAt checks a journal body and returns typed views of it: every
// count read from shared memory is checked against the body's length
// before an entry is touched.
func journalAt(body []byte) (*journalHeader, []*entryHeader, [][]byte, error) {
	if len(body) < headerSize || uintptr(unsafe.Pointer(unsafe.SliceData(body)))%8 != 0 {
		return nil, nil, nil, fmt.Errorf("%w: journal body of %d bytes", shm.ErrCorrupt, len(body))
	}
	h := (*journalHeader)(unsafe.Pointer(unsafe.SliceData(body)))
	n, p := int(h.entries), int(h.payload)
	if n <= 0 || n > maxEntries || p <= 0 || p > 1<<30 || journalBody(n, p) > len(body) {
		return nil, nil, nil, fmt.Errorf("%w: journal of %d entries of %d bytes in a %d-byte body", shm.ErrCorrupt, n, p, len(body))
	}
	es := entrySize(p)
	heads := make([]*entryHeader, n)
	payloads := make([][]byte, n)
	for i := range n {
		e := body[headerSize+i*es : headerSize+(i+1)*es]
		heads[i] = (*entryHeader)(unsafe.Pointer(unsafe.SliceData(e)))
		payloads[i] = e[entryHead : entryHead+p : entryHead+p]
	}
	return h, heads, payloads, nil
}
