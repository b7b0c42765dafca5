package pipe

import (
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/shm"
)

// cacheLine separates words written by the two ends: each end writes its
// own line (owner, closed), and each direction's data and space events sit
// on lines of their own, written by the sender and the receiver in turn.
const cacheLine = shm.CacheLine

// layoutVersion 2: the ends' owner words are namespace-tagged procinfo
// words.
// Version 3: messages larger than a ring record live out of line in the
// pipe's arena (flagArena; the limit at offset 8).
const layoutVersion = 3

// Pipe control block: the body of the KindPipe object "<name>". Messages
// travel in ringbuf SPSC rings, "<name>.0" (sent by end 0, read by end 1;
// duplex pipes only) and "<name>.1" (sent by end 1, read by end 0).
//
//	  0  config, written once by Create: flags u32 (flagDuplex, flagArena)
//	     8 maxMessage u64: largest message; past the ring's largest record
//	       it goes out of line in the arena "<name>.m"/".d" and the ring
//	       record (exactly refLen bytes) holds an arena reference
//	 64  end 0: owner u64 (procinfo word of the process holding it), closed u32
//	128  end 1: owner u64, closed u32
//	192  ring 0 data event:  seq u32, sleepers u32  [sender bumps, receiver sleeps]
//	256  ring 0 space event: seq u32, sleepers u32  [receiver bumps, sender sleeps]
//	320  ring 1 data event
//	384  ring 1 space event
//	bodySize = 448
const (
	offFlags    = 0
	offMaxLarge = 8
	offEnd0     = 1 * cacheLine
	endStride   = cacheLine
	endOwner    = 0
	endClosed   = 8
	offEvents   = 3 * cacheLine
	eventStride = cacheLine
	bodySize    = 7 * cacheLine

	flagDuplex = 1
	flagArena  = 2
)

// end is one end's shared words.
type end struct {
	owner  *atomic.Uint64 // written by the process that takes the end; read by the peer
	closed *atomic.Uint32 // written by Close of this end; read by the peer
}

// control is the control block as typed words.
type control struct {
	flags    uint32
	maxLarge uint64 // the largest message, when flagArena is set
	ends     [2]end
	data     [2]notify.Event // data[i]: ring i has a record; sender of ring i notifies
	space    [2]notify.Event // space[i]: ring i has room; receiver of ring i notifies
}

func controlAt(body []byte) (*control, error) {
	if len(body) < bodySize {
		return nil, fmt.Errorf("%w: pipe body of %d bytes, want %d", shm.ErrCorrupt, len(body), bodySize)
	}
	c := &control{flags: atomics.MustUint32At(body, offFlags).Load(), maxLarge: atomics.MustUint64At(body, offMaxLarge).Load()}
	if c.flags&^(flagDuplex|flagArena) != 0 {
		return nil, fmt.Errorf("%w: unknown pipe flags %#x", shm.ErrCorrupt, c.flags)
	}
	for i := range 2 {
		o := offEnd0 + i*endStride
		c.ends[i] = end{owner: atomics.MustUint64At(body, o+endOwner), closed: atomics.MustUint32At(body, o+endClosed)}
		d := offEvents + 2*i*eventStride
		c.data[i] = notify.Event{Seq: atomics.MustUint32At(body, d), Sleepers: atomics.MustUint32At(body, d+4)}
		c.space[i] = notify.Event{Seq: atomics.MustUint32At(body, d+eventStride), Sleepers: atomics.MustUint32At(body, d+eventStride+4)}
	}
	return c, nil
}
