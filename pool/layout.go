package pool

import (
	"encoding/binary"
	"fmt"
)

// Each worker has two SPSC rings in an anonymous segment of its own: tasks
// (parent produces, worker consumes) and results (worker produces, parent
// consumes). Every record starts with a 24-byte header of little-endian
// words; records are 8-byte aligned in the ring, so a payload of fixed-size
// items at offset 24 is too.
//
// Task record:
//
//	0        4        8                16               24
//	+--------+--------+----------------+----------------+------------ - -
//	| kind   | count  | seq            | function id    | payload
//	+--------+--------+----------------+----------------+------------ - -
//
//	kind recTask:   count inputs; payload is count*size raw bytes for a
//	                fixed-size input type (size known to both sides from the
//	                registered function), else count items of [u32 len][bytes].
//	kind recShared: payload is a sharedTask (segment names and index range).
//
// Result record:
//
//	0        4        8                16       20       24
//	+--------+--------+----------------+--------+--------+------------ - -
//	| kind   | count  | seq            | first  | 0      | payload
//	+--------+--------+----------------+--------+--------+------------ - -
//
//	kind resRaw:   count results, all successful, as count*size raw bytes
//	               (fixed-size output type), for items first..first+count-1
//	               of chunk seq.
//	kind resItems: count items of [u8 status][u32 len][bytes]: status itemOK
//	               (bytes: the encoded result), itemErr (the message),
//	               itemPanic ([u32 message length][message][stack]),
//	               itemTooLarge and itemNotRegistered (the message of a
//	               failure the worker made itself, which the parent makes
//	               match ErrTooLarge and ErrNotRegistered).
//	kind resReady: the worker ran its initializer and waits for tasks.
//
// A worker answers its chunks in the order it received them, so the parent
// pairs each result record with the oldest chunk it has not finished.
const (
	hdrSize = 24

	offKind  = 0
	offCount = 4
	offSeq   = 8
	offFunc  = 16 // task records
	offFirst = 16 // result records

	itemHdrSize = 5 // [u8 status][u32 len]
)

// Record kinds.
const (
	recTask   = 1
	recShared = 2

	resRaw   = 1
	resItems = 2
	resReady = 3
)

// Item statuses of a resItems record.
const (
	itemOK    = 0
	itemErr   = 1
	itemPanic = 2

	itemTooLarge      = 3
	itemNotRegistered = 4
)

// header is a record header decoded.
type header struct {
	kind, count uint32
	seq         uint64
	word        uint64 // function id (task) or first index (result)
}

func putHeader(b []byte, h header) {
	binary.LittleEndian.PutUint32(b[offKind:], h.kind)
	binary.LittleEndian.PutUint32(b[offCount:], h.count)
	binary.LittleEndian.PutUint64(b[offSeq:], h.seq)
	binary.LittleEndian.PutUint64(b[offFunc:], h.word)
}

// readHeader decodes the header of rec, checking that it is there.
func readHeader(rec []byte) (header, error) {
	if len(rec) < hdrSize {
		return header{}, fmt.Errorf("pool: record of %d bytes, shorter than its header", len(rec))
	}
	return header{
		kind:  binary.LittleEndian.Uint32(rec[offKind:]),
		count: binary.LittleEndian.Uint32(rec[offCount:]),
		seq:   binary.LittleEndian.Uint64(rec[offSeq:]),
		word:  binary.LittleEndian.Uint64(rec[offFunc:]),
	}, nil
}

// appendItem appends one [u8 status][u32 len][bytes] item.
func appendItem(dst []byte, status byte, p []byte) []byte {
	dst = append(dst, status)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// nextItem splits the first item off b, checking its length.
func nextItem(b []byte) (status byte, p, rest []byte, err error) {
	if len(b) < itemHdrSize {
		return 0, nil, nil, fmt.Errorf("pool: truncated item header")
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if uint64(n) > uint64(len(b)-itemHdrSize) {
		return 0, nil, nil, fmt.Errorf("pool: item of %d bytes in a record with %d left", n, len(b)-itemHdrSize)
	}
	return b[0], b[itemHdrSize : itemHdrSize+int(n)], b[itemHdrSize+int(n):], nil
}
