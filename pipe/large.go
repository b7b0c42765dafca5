package pipe

import (
	"context"
	"fmt"
	"io"

	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// Out-of-line messages: a message larger than the ring's largest record
// is encoded into a block of the pipe's arena (internal/arena: pages of a
// sparse region of the pipe's own segment, reserved as they are used) and
// the ring carries a record of exactly refLen bytes holding a reference
// to it. An inline message of refLen bytes goes out of line too, so that
// the length alone tells the two apart and the inline path is unchanged.
//
//	send:    allocate (owner: this process) → encode into the block →
//	         reserve a refLen record → write the reference, Publish
//	         (owner: queued) → Commit
//	receive: peek the record → Take the block (owner: this process,
//	         reading) → the caller reads it in place → Discard: Free the
//	         block, then free the record
//
// A sender killed before Publish leaves a block whose owner is dead: the
// receiver frees it (Reclaim) when it finds the sender dead, and so does
// the next send that waits for room. A receiver killed
// with a block taken ends the pipe (ErrPeerDead for the sender); the
// block goes with the segment.

const (
	// refLen is the length of a ring record that holds an arena
	// reference: the reference and 7 bytes of zeros.
	refLen = arena.RefSize + 7
	// maxLimit bounds Options.MaxMessage: the arena (4 × the limit) stays
	// in range.
	maxLimit = 1 << 36
	// arenaRecords is the blocks a pipe's arena holds at once.
	arenaRecords = 1024
)

// sizing is a pipe's out-of-line geometry.
type sizing struct {
	limit      int
	arena      bool
	arenaBytes int64
	records    int
	highWater  int64
}

// sizeFor derives it from the options; anon is New's (the default limit
// is DefaultMaxMessage rather than the ring's largest record).
func sizeFor[T any](o Options[T], capacity int, anon bool) sizing {
	inline := ringbuf.MaxRecord(capacity)
	z := sizing{limit: o.MaxMessage}
	if z.limit == 0 {
		z.limit = inline
		if anon {
			z.limit = DefaultMaxMessage
		}
	}
	z.limit = int(min(int64(z.limit), maxLimit)) // (int64: maxLimit is past a 32-bit int)
	if z.limit > inline {
		z.arena = true
		z.arenaBytes = 4 * int64(max(z.limit, inline))
		z.records = arenaRecords
		// Freed pages stay reserved up to half the arena: a stream
		// reuses them without page faults; past it they go back.
		z.highWater = z.arenaBytes / 2
	}
	return z
}

// segment returns the size and options of a segment of its own for a pipe
// of this geometry, with extra bytes for other objects: the arena's data
// goes in the segment's sparse tail.
func (z sizing) segment(capacity int, extra int64) (int64, []shm.Option) {
	size := int64(2*capacity) + extra
	if !z.arena {
		return size, nil
	}
	meta, data := arena.Sizes(z.arenaBytes, z.records)
	size += int64(meta+data) + 2*shm.ObjectHeaderSize + 2*shm.CacheLine
	return size, []shm.Option{shm.WithSparse(int64(data - arena.PageSize))}
}

// testHookPlaced, when set (by tests), runs after a send has placed its
// message out of line and before it sends the reference.
var testHookPlaced func()

// sendLarge sends an n-byte message out of line: it waits for room in
// the arena (the receiver's Discard frees blocks and notifies space) as a
// send waits for room in the ring. sendMu is held.
func (c *Conn[T]) sendLarge(ctx context.Context, n int, fill func(rec []byte) error) error {
	if uint64(n) > c.ctl.maxLarge {
		return fmt.Errorf("%w: pipe %q: message of %d bytes, the limit is %d (Options.MaxMessage)", ErrTooLarge, c.name, n, c.ctl.maxLarge)
	}
	var blk arena.Block
	alloc := func() (bool, error) {
		if c.closed.Load() || c.ctl.ends[c.end].closed.Load() != 0 {
			return false, ErrClosed
		}
		if c.ctl.ends[1-c.end].closed.Load() != 0 { // observes: peer's Close
			return false, io.ErrClosedPipe
		}
		var ok bool
		var err error
		blk, ok, err = c.arena.TryAlloc(n)
		return ok, err
	}
	ok, err := alloc()
	if !ok && err == nil {
		c.reclaim() // blocks of senders that died before sending them
		err = c.ctl.space[c.end].Wait(ctx, &c.sendWait, alloc)
	}
	if err != nil {
		return fmt.Errorf("pipe %q: %w", c.name, err)
	}
	free := func() {
		c.arena.Free(blk)
		c.arenaFreed()
	}
	if err := fillOrUndo(fill, c.arena.Bytes(blk), free); err != nil {
		free()
		return err
	}
	if testHookPlaced != nil {
		testHookPlaced()
	}
	published := false
	err = c.sendRecord(ctx, refLen, func(rec []byte) error {
		arena.EncodeRef(rec, blk)
		clear(rec[arena.RefSize:])
		c.arena.Publish(blk) // the message answers for the block from here
		published = true
		return nil
	})
	if !published {
		free()
	}
	return err
}

// takeLarge takes over the block the reference in rec names and returns
// its bytes; recvMu is held.
func (c *Conn[T]) takeLarge(rec []byte) ([]byte, error) {
	for _, b := range rec[arena.RefSize:] {
		if b != 0 {
			return nil, fmt.Errorf("%w: pipe %q: reference record padding", ErrCorrupt, c.name)
		}
	}
	blk, err := arena.DecodeRef(rec)
	if err == nil {
		blk, err = c.arena.Take(blk)
	}
	if err != nil {
		return nil, fmt.Errorf("pipe %q: %w", c.name, err)
	}
	c.held, c.holding = blk, true
	return c.arena.Bytes(blk), nil
}

// reclaim frees the arena blocks of senders that died before sending
// them. The receiver calls it when it finds its peer dead, so that a
// dead sender's block comes back then, not when the arena is next full.
func (c *Conn[T]) reclaim() {
	if c.arena != nil {
		c.arena.Reclaim() // ErrCorrupt shows on the next take of a reference
	}
}

// arenaUsed is the bytes of out-of-line messages, whole pages.
func (c *Conn[T]) arenaUsed() int64 {
	if c.arena == nil {
		return 0
	}
	return c.arena.Used()
}
