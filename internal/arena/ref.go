package arena

import (
	"encoding/binary"
	"fmt"
)

// RefSize is the size of an encoded block reference.
const RefSize = 24

// refMagic marks an encoded block reference ("AREF" little-endian).
const refMagic = 0x46455241

// Block reference, as a message slot carries it (little-endian):
//
//	0 magic u32 | 4 record u32 | 8 gen u32 | 12 start page u32 | 16 length u64

// EncodeRef writes a reference to b into dst[:RefSize].
func EncodeRef(dst []byte, b Block) {
	_ = dst[RefSize-1]
	binary.LittleEndian.PutUint32(dst[0:], refMagic)
	binary.LittleEndian.PutUint32(dst[4:], b.Index)
	binary.LittleEndian.PutUint32(dst[8:], b.Gen)
	binary.LittleEndian.PutUint32(dst[12:], b.Start)
	binary.LittleEndian.PutUint64(dst[16:], uint64(b.Len))
}

// DecodeRef reads a reference from src, which came from shared memory:
// its length and magic are checked here, its record, pages and generation
// by Take.
func DecodeRef(src []byte) (Block, error) {
	if len(src) < RefSize {
		return Block{}, fmt.Errorf("%w: block reference of %d bytes", ErrCorrupt, len(src))
	}
	if binary.LittleEndian.Uint32(src) != refMagic {
		return Block{}, fmt.Errorf("%w: block reference magic %#x", ErrCorrupt, binary.LittleEndian.Uint32(src))
	}
	n := binary.LittleEndian.Uint64(src[16:])
	if n > maxPages*PageSize {
		return Block{}, fmt.Errorf("%w: block reference of %d bytes", ErrCorrupt, n)
	}
	return Block{
		Index: binary.LittleEndian.Uint32(src[4:]),
		Gen:   binary.LittleEndian.Uint32(src[8:]),
		Start: binary.LittleEndian.Uint32(src[12:]),
		Len:   int(n),
	}, nil
}
