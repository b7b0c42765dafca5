package ringbuf

import (
	"context"
	"fmt"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// The methods below are those of SPSC and MPSC (both embed vring).

// Reserve claims room for an n-byte record and returns it in place, for the
// caller to fill and then Commit (or Cancel). It blocks while the ring is
// full, until ctx is done or the consumer is gone (ErrPeerDead, ErrClosed).
// A record longer than MaxRecord is ErrTooLarge. Zero-length records are
// allowed. Only one reservation per handle may be outstanding; on an MPSC
// handle the reservation holds the handle's producer lock until Commit.
func (r *vring) Reserve(ctx context.Context, n int) ([]byte, error) {
	// The common SPSC case, written out here for the reason given at
	// Write; its conditions are Write's.
	rec, end, ok := r.fastRoom(uint64(n))
	if !ok {
		return r.reserveSlow(ctx, n)
	}
	return r.reserved(rec, end, uint64(n)), nil
}

// reserved records the SPSC reservation of rec (the record's bytes at the
// tail, ending at end) and returns its n-byte payload.
func (r *vring) reserved(rec []byte, end, n uint64) []byte {
	length := n + recordHeaderSize // the header is written at Commit: nothing past the tail is seen
	r.p.res, r.p.resIdx, r.p.resEnd = true, (end-alignRec(length))&r.mask, end
	r.p.resHdr = r.p.hdr | length
	r.p.fastEnd = 0 // no fast path while reserved
	return rec[recordHeaderSize:length:length]
}

// reserveSlow is Reserve's general path (see writeSlow); under tryNow it
// returns errWouldBlock where it would block.
func (r *vring) reserveSlow(ctx context.Context, n int) ([]byte, error) {
	if rec, end, ok := r.alignedRoom(uint64(n)); ok {
		return r.reserved(rec, end, uint64(n)), nil
	}
	if err := r.lockProducer(ctx); err != nil {
		return nil, err
	}
	var buf []byte
	var err error
	if ctx == tryNow {
		var ok bool
		if buf, ok, err = r.tryReserve(n); !ok && err == nil {
			err = errWouldBlock
		}
	} else {
		buf, err = r.reserve(ctx, n)
	}
	if err != nil {
		r.unlockProducer()
	}
	return buf, err
}

// TryReserve is Reserve without blocking: ok is false when the ring has no
// room now, and, on an MPSC handle, while another goroutine's call on the
// handle waits for room (its record may be larger: see the package doc).
func (r *vring) TryReserve(n int) (buf []byte, ok bool, err error) {
	switch buf, err = r.Reserve(tryNow, n); err {
	case nil:
		return buf, true, nil
	case errWouldBlock:
		return nil, false, nil
	}
	return nil, false, err
}

// Commit publishes the record returned by Reserve. The bytes Reserve
// returned must not be touched afterwards.
func (r *vring) Commit() {
	if !r.multi && r.p.res { // SPSC fast path: see commit
		r.p.res = false
		*plain64(r.data, r.p.resIdx) = r.p.resHdr
		r.p.tail, r.p.fastEnd = r.p.resEnd, r.window(r.p.resEnd)
		if r.p.tail-r.p.published >= r.opt.batch {
			r.flush()
		}
		return
	}
	r.commit()
	r.unlockProducer()
}

// Cancel withdraws the record returned by Reserve: the consumer skips it.
func (r *vring) Cancel() {
	r.cancel()
	r.unlockProducer()
}

// Write copies p into the ring as one record, blocking while the ring is
// full (see Reserve).
//
// Write does not allocate when the ring has room.
func (r *vring) Write(ctx context.Context, p []byte) error {
	// Its common SPSC case is written out here rather than called: a
	// producer streaming into lines the consumer's core last held waits on
	// its stores, and a call costs stores (the return address, and the
	// arguments spilled around it). The producer's fast window (see
	// window) stands for every condition of that case: an attached SPSC
	// producer, no reservation outstanding, room before the wrap and below
	// the cached head. The record is written whole, header last, and
	// published with the tail (no record in progress is ever visible, so
	// its header goes straight in committed).
	n := uint64(len(p))
	rec, tail, ok := r.fastRoom(n)
	if !ok {
		return r.writeSlow(ctx, p)
	}
	memcopy.Copy(rec[recordHeaderSize:], p)
	*plain64(rec, 0) = r.p.hdr | (n + recordHeaderSize) // published with the tail
	r.p.tail = tail
	if tail-r.p.published >= r.opt.batch {
		r.flush()
	}
	return nil
}

// fastRoom is the test of the producer's fast window (see Write), small
// enough to inline: the room for an n-byte record at the tail and the tail
// after it; ok=false sends the caller to alignedRoom (a payload of
// alignMin or more) or down the general path.
func (r *vring) fastRoom(n uint64) (rec []byte, end uint64, ok bool) {
	tail := r.p.tail
	a := alignRec(n + recordHeaderSize)
	if n > r.p.fastMax || tail+a > r.p.fastEnd {
		return nil, 0, false
	}
	idx := tail & r.mask
	return r.data[idx : idx+a : idx+a], tail + a, true
}

// alignedRoom is fastRoom for a payload of alignMin bytes or more, placed
// on a cache line after the padding it writes (published with the tail).
// It is tried first on the general paths, so that small records do not pay
// for its test.
func (r *vring) alignedRoom(n uint64) (rec []byte, end uint64, ok bool) {
	tail := r.p.tail
	a := alignRec(n + recordHeaderSize)
	lead := leadFor(tail, n)
	if n < alignMin || n > r.p.maxRec || tail+lead+a > r.p.fastEnd {
		return nil, 0, false
	}
	idx := tail & r.mask
	if lead != 0 {
		*plain64(r.data, idx) = r.p.padHdr | lead
		idx += lead
	}
	return r.data[idx : idx+a : idx+a], tail + lead + a, true
}

// tryNow is the context under which Write does not wait (TryWrite):
// writeSlow then returns errWouldBlock where it would block.
var tryNow context.Context = tryContext{}

type tryContext struct{ context.Context }

// writeSlow is Write's general path: a payload placed on a cache line
// (reserveSlow tries alignedRoom first), MPSC, a record that wraps or does
// not fit the cached room, the first write, and every error.
func (r *vring) writeSlow(ctx context.Context, p []byte) error {
	buf, err := r.reserveSlow(ctx, len(p))
	if err != nil {
		return err
	}
	memcopy.Copy(buf, p)
	r.Commit()
	return nil
}

// TryWrite is Write without blocking: ok is false when the ring has no room
// now, and, on an MPSC handle, while another goroutine's call on the handle
// waits for room (its record may be larger: see the package doc).
func (r *vring) TryWrite(p []byte) (ok bool, err error) {
	switch err = r.Write(tryNow, p); err {
	case nil:
		return true, nil
	case errWouldBlock:
		return false, nil
	}
	return false, err
}

// Peek returns the next record in place, blocking while the ring is empty,
// until ctx is done or the producers are gone (io.EOF when every producer
// closed its end, ErrPeerDead when one died). The bytes stay valid and
// unchanged until Discard. Peek again before Discard returns the same record.
func (r *vring) Peek(ctx context.Context) ([]byte, error) { return r.peek(ctx) }

// TryPeek is Peek without blocking: ok is false when no record is ready.
// On an empty ring it reports io.EOF at once when every producer closed its
// end, and looks for dead producers (ErrPeerDead) once per poll period, as
// a blocked Peek does, not at every call: that look reads /proc. TryRead,
// TryReadBatch and TryPeekBatch do likewise.
func (r *vring) TryPeek() (rec []byte, ok bool, err error) { return r.tryPeek(true) }

// Discard frees the record returned by Peek: the ring may reuse its bytes.
func (r *vring) Discard() { r.releasePeek() }

// Read copies the next record into buf and returns its length, blocking as
// Peek does. A record longer than buf stays in the ring and Read returns its
// length with ErrShortBuffer.
func (r *vring) Read(ctx context.Context, buf []byte) (int, error) { return r.readInto(ctx, buf) }

// TryRead is Read without blocking: ok is false when no record is ready.
func (r *vring) TryRead(buf []byte) (n int, ok bool, err error) {
	peeked := r.c.peekA != 0
	rec, ok, err := r.tryPeek(true)
	if !ok {
		return 0, false, err
	}
	if len(rec) > len(buf) {
		if r.c.peekA != 0 && !peeked {
			r.c.peekA = 0 // the record stays, unpeeked
		}
		return len(rec), false, ErrShortBuffer
	}
	n = memcopy.CopyOut(buf, rec)
	r.releasePeek()
	return n, true, nil
}

// ReadBatch waits for at least one record, then hands each committed record
// to fn in order, in place, until fn returns false or none is left; it
// publishes the freed space once per quarter ring, not per record. rec is
// valid only during the call of fn. It returns the number of records.
// Calling it between Peek and Discard is a misuse and panics.
func (r *vring) ReadBatch(ctx context.Context, fn func(rec []byte) bool) (int, error) {
	return r.batch(ctx, true, fn)
}

// TryReadBatch is ReadBatch without waiting: it returns 0 when no record is
// ready.
func (r *vring) TryReadBatch(fn func(rec []byte) bool) (int, error) {
	return r.batch(context.Background(), false, fn)
}

// Flush publishes the records the producer committed under WithWriteBatch
// and has not published yet. Producer side only.
func (r *SPSC) Flush() {
	if r.p.slot >= 0 {
		r.flush()
	}
}

// AttachProducer attaches this handle as a producer now rather than on its
// first write. A consumer waiting on an empty ring gets io.EOF once every
// producer that attached has closed; a creator that hands the ring to
// several producer processes holds an attachment until each of them has
// attached (AttachProducer here, start them, let each AttachProducer and
// say so, then CloseWrite here), so that a fast first producer closing
// early does not end the stream.
func (r *vring) AttachProducer() error {
	r.lockProducer(context.Background())
	defer r.unlockProducer()
	if r.p.slot >= 0 {
		return nil
	}
	if err := r.attachProducer(); err == errSlotPending {
		return fmt.Errorf("%w: ring %q has no free producer slot yet", ErrBusy, r.name)
	} else if err != nil {
		return err
	}
	return nil
}

// AttachConsumer attaches this handle as the consumer now rather than on
// its first read; producers waiting on a full ring then watch it.
func (r *vring) AttachConsumer() error {
	if r.c.attached {
		return nil
	}
	return r.attachConsumer()
}

// CloseWrite detaches this handle's producer: the slot is freed, and a
// consumer waiting on an empty ring whose producers have all closed gets
// io.EOF. On an SPSC handle an outstanding reservation is cancelled. On an
// MPSC handle a reservation holds the handle's producer lock until Commit
// or Cancel, so end it first (CloseWrite waits for another goroutine's);
// another goroutine may call CloseWrite while one of the handle's
// goroutines waits in Write or Reserve for room: that call returns
// ErrClosed, having claimed nothing.
func (r *vring) CloseWrite() error {
	if r.closed.Load() {
		// After Close, which detached both sides: a decoded handle's
		// mapping is gone, and the wakes below faulted on it
		// (TestDecodedHandleAfterClose).
		return nil
	}
	if r.multi {
		r.closing.Store(true) // before the lock, which a Write waiting for room holds
		r.p.wait.interrupt()
	}
	if closeWriteHook != nil {
		closeWriteHook()
	}
	r.lockProducer(context.Background())
	defer r.unlockProducer()
	if r.p.res {
		r.cancel()
	}
	if !r.multi && r.p.slot >= 0 {
		r.flush()
	}
	if r.p.slot >= 0 {
		r.slots.release(r.p.slot)
		r.p.slot = -1
		if r.multi {
			// A producer of another handle waiting for a slot
			// (errSlotPending) may have looked again after the wake
			// above and found this one still held: wake it for the
			// slot now free.
			r.p.wait.interrupt()
		}
	}
	r.p.closed = true
	if !r.multi {
		r.p.fastEnd = 0 // MPSC: always 0, and read without the lock by fastRoom
	}
	r.c.wait.interrupt() // consumers waiting on an empty ring look again: io.EOF
	return nil
}

// closeWriteHook, nil but in tests, runs in CloseWrite after the first
// wake of the producers waiting for room, before the producer slot is
// freed.
var closeWriteHook func()

// AcquireConsumer makes this handle the consumer of a ring that several
// processes read in turn (a consumer-side claim): it waits, honouring ctx,
// while a live handle of another process holds the consumer side, takes
// it over from a dead one, and starts reading at the ring's head. Give it
// back with ReleaseConsumer. Consumers that take turns this way should all use
// AcquireConsumer: once one has, producers no longer treat "no consumer
// now" as closed (a producer on a full ring then waits, or its ctx ends).
// A typical multi-consumer Get is AcquireConsumer, Read, ReleaseConsumer.
func (r *vring) AcquireConsumer(ctx context.Context) error {
	if r.closed.Load() || r.c.closed {
		return ErrClosed
	}
	// Before the look at attached: a handle that is the consumer already
	// (it has read) takes turns from now on too.
	r.shared.Store(1)
	if r.c.attached {
		return nil
	}
	opt := atomics.WaitOptions{Poll: r.opt.poll, Check: pollCheck}
	for {
		seq := r.consumerSeq.Load()
		if _, ok := r.takeConsumer(); ok {
			r.setupConsumer()
			return nil
		}
		if acquireWaitHook != nil {
			acquireWaitHook(false, nil)
		}
		err := atomics.Await(ctx, r.consumerSeq, seq, &opt)
		if acquireWaitHook != nil {
			acquireWaitHook(true, err)
		}
		if err != nil && err != errPoll {
			return err
		}
	}
}

// acquireWaitHook, nil but in tests, runs in AcquireConsumer before
// (after false) and after (after true, with its error) each wait.
var acquireWaitHook func(after bool, err error)

// ReleaseConsumer hands the consumer side taken by AcquireConsumer back:
// the head is published (a record Peeked and not Released is read again by
// the next consumer) and a process waiting in AcquireConsumer is woken.
func (r *vring) ReleaseConsumer() {
	if !r.c.attached {
		return
	}
	r.c.peekA = 0
	r.c.batch.data = nil // a batch outstanding is over, its records unreleased
	r.publish()
	r.c.attached = false
	r.consumer.CompareAndSwap(procinfo.Self().Word(), 0) // mine -> none
	r.consumerSeq.Add(1)
	atomics.Wake(r.consumerSeq, -1)
}

// CloseRead detaches this handle's consumer: producers waiting on a full
// ring get ErrClosed, and a process waiting in AcquireConsumer is woken.
func (r *vring) CloseRead() error {
	if r.closed.Load() { // after Close: see CloseWrite
		return nil
	}
	r.ReleaseConsumer()
	r.c.closed = true
	r.p.wait.wake()
	return nil
}

// Close says this handle is done: both its sides detach (as CloseWrite
// and CloseRead). The ring stays in its segment, and other handles keep
// working. A handle decoded from a worker's arguments also drops the
// attachment its decoding made (shm.Attach), so no call on it may still be
// running; a handle made by New or Open unmaps nothing (its segment is the
// caller's). Closing twice is harmless.
func (r *vring) Close() error {
	if r.closed.Load() {
		// A second Close: CloseWrite and CloseRead would wake through a
		// decoded handle's mapping, which the first unmapped.
		return nil
	}
	r.CloseWrite()
	r.CloseRead()
	if r.closed.Swap(true) {
		return nil
	}
	if r.ownSeg {
		return r.seg.Close()
	}
	return nil
}
