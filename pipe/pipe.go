package pipe

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/pod"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// Options configure a pipe.
type Options[T any] struct {
	// OneWay makes a one-way pipe: end 0 only receives, end 1 only sends
	// (Python's Pipe(duplex=False)). The zero value is duplex.
	OneWay bool
	// Capacity is the ring size of each direction in bytes, a power of
	// two; 0 means DefaultCapacity. The largest message is about half.
	// A pipe whose messages may be larger (MaxMessage) needs at least
	// 128: the ring carries a reference to each of them.
	Capacity int
	// MaxMessage is the largest message, in bytes; a larger one is
	// ErrTooLarge. A message larger than a ring record (about
	// Capacity/2) is placed out of line in the pipe's arena of shared
	// pages, reserved as messages need them (memory grows with use, not
	// with this limit), and the ring carries a reference. 0 means
	// DefaultMaxMessage for New, and the ring's largest record for a pipe
	// made by Create in a segment of the caller's, whose arena would take
	// 4 × MaxMessage bytes of that segment.
	MaxMessage int
	// Codec encodes the values of Send and Recv; nil means
	// codec.Default[T]().
	Codec codec.Codec[T]
	// Wait selects how a blocked call waits (atomics.Park by default).
	Wait atomics.Strategy
}

// DefaultCapacity is the ring size of each direction unless
// Options.Capacity says otherwise.
const DefaultCapacity = 64 << 10

// DefaultMaxMessage is the largest message of a pipe made by New, unless
// Options.MaxMessage says otherwise.
const DefaultMaxMessage = 64 << 20

// pollPeer is how often a blocked call checks that the peer's process is
// alive.
const pollPeer = 50 * time.Millisecond

// Conn is one end of a pipe, Python's multiprocessing.Connection: Send and
// Recv carry T values through a codec, SendBytes and RecvBytes carry bytes,
// Peek and Discard read a message in place, All ranges over the values
// received, and Read and Write make the pipe a byte stream (io.Reader,
// io.Writer). Each direction is a
// single-producer single-consumer ring in shared memory (ringbuf.SPSC).
//
// A Conn may be used by one sending goroutine and one receiving goroutine
// at a time; a second concurrent sender (or receiver) is serialised. It
// travels to a worker process as a handle (GobEncode); the process that
// decodes it becomes the end's holder, whose death the peer notices
// (ErrPeerDead). Do not use one end in two processes. A Conn must not be
// copied.
type Conn[T any] struct {
	noCopy             noCopy
	seg                *shm.Segment
	name               string
	end                int
	ctl                *control
	send               *ringbuf.SPSC  // ring[end]; nil on the receiving end of a one-way pipe
	sendMax            int            // send's largest record, for Write (which reads it without sendMu: a handoff replaces send); 0 where send is nil
	recv               *ringbuf.SPSC  // ring[1-end]; nil on the sending end of a one-way pipe
	rx                 ringx.Consumer // recv's machinery: the quick try, the rescue
	tx                 ringx.Producer // send's machinery: the probe for room
	arena              *arena.Arena   // out-of-line messages; nil when every message fits the ring
	codec              codec.Codec[T]
	bin                *codec.Binary[T]
	sendWait, recvWait atomics.WaitOptions
	sendSpin, recvSpin spin.Adaptive // this handle's learnt spins (see package spin)

	sendMu  callLock
	scratch []byte // guarded by sendMu
	recvMu  callLock
	readOff int         // guarded by recvMu: bytes of the peeked record already Read
	held    arena.Block // guarded by recvMu: the out-of-line message peeked (holding is set)
	holding bool

	closed atomic.Bool // Close has begun: this handle's calls return ErrClosed
	seg0   *segRef     // the segment this handle shares ownership of; nil when the caller's
	// unnamed: made by Accept or Dial, which removed the segment's name
	// (set before the Conn is returned, read only after).
	unnamed bool
}

// segRef counts the Conns that own a segment: the two ends New made, or
// the one end GobDecode attached. The last Close closes it.
type segRef struct {
	seg  *shm.Segment
	refs atomic.Int32
}

func typeID[T any](c codec.Codec[T]) shm.TypeID {
	id := pod.TypeID(reflect.TypeFor[T]())
	for _, b := range []byte(codec.Name(c)) {
		id.Hash = (id.Hash ^ uint64(b)) * 1099511628211 // FNV-1a over the codec's name
	}
	return id
}

func spec[T any](c codec.Codec[T]) shm.ObjectSpec {
	return shm.ObjectSpec{Kind: shm.KindPipe, Version: layoutVersion, Type: typeID(c), BodySize: bodySize}
}

func ringName(name string, i int) string { return name + "." + strconv.Itoa(i) }

// placements are the objects create places for pipe name, in the order
// it places them, with their bodies' sizes: what it asks
// shm.Segment.CanAlloc room for (TestPlacementsAreWhatCreatePlaces).
func placements[T any](c codec.Codec[T], name string, oneWay bool, capacity int, z sizing) []shm.Placement {
	var objs []shm.Placement
	if !oneWay {
		objs = append(objs, shm.Placement{Name: ringName(name, 0), BodySize: ringx.SPSCBodySize(capacity)})
	}
	objs = append(objs, shm.Placement{Name: ringName(name, 1), BodySize: ringx.SPSCBodySize(capacity)}, shm.Placement{Name: name, BodySize: spec(c).BodySize})
	if z.arena {
		objs = append(objs, arena.Placements(name+".m", name+".d", z.arenaBytes, z.records)...)
	}
	return objs
}

// MaxName is the longest pipe name: ring names add two bytes.
const MaxName = shm.MaxObjectName - 2

// Create makes a pipe called name in seg and returns its two ends. Its
// rings are "<name>.0" (none for a OneWay pipe) and "<name>.1", and a pipe
// with an arena (see Options.MaxMessage) adds "<name>.m" and "<name>.d".
// It returns shm.ErrExist if one of those names is taken, and
// shm.ErrNoSpace if seg has no room for them all (its directory, or its
// bytes), having placed nothing, unless another process places objects in
// seg at the same time: objects are never freed, so Create looks before it
// places the first (shm.Segment.CanAlloc), and only one that fails after
// that look leaves the objects placed before it.
func Create[T any](seg *shm.Segment, name string, o Options[T]) (*Conn[T], *Conn[T], error) {
	if len(name) > MaxName {
		return nil, nil, fmt.Errorf("pipe: name %q longer than %d bytes", name, MaxName)
	}
	capacity := o.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	z := sizeFor(o, capacity, false)
	return create(seg, name, o, capacity, z)
}

func create[T any](seg *shm.Segment, name string, o Options[T], capacity int, z sizing) (*Conn[T], *Conn[T], error) {
	c := codec.OrDefault(o.Codec)
	if z.arena && capacity > 0 && capacity&(capacity-1) == 0 && ringbuf.MaxRecord(capacity) < refLen { // (not a power of two: the ring says)
		// A message over the ring's records travels as a reference of
		// refLen bytes, which must fit one: without this, every such
		// message failed with ErrTooLarge naming the reference's length.
		least := capacity
		for ringbuf.MaxRecord(least) < refLen {
			least *= 2
		}
		return nil, nil, fmt.Errorf("pipe %q: %w: capacity %d leaves ring records of %d bytes, too small for messages up to %d bytes (Options.MaxMessage) to go out of line; use at least %d",
			name, ringbuf.ErrInvalid, capacity, ringbuf.MaxRecord(capacity), z.limit, least)
	}
	var flags uint32
	if err := ringx.CheckSPSC(capacity); err != nil { // the ring's own refusal, before the room is counted for it
		return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
	}
	if z.arena {
		flags |= flagArena
	}
	if err := seg.CanAlloc(placements(c, name, o.OneWay, capacity, z)...); err != nil { // placing nothing when one would fail: objects are never freed
		return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
	}
	if !o.OneWay {
		flags |= flagDuplex
		if _, err := ringbuf.NewSPSC(seg, ringName(name, 0), capacity); err != nil {
			return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
		}
	}
	if _, err := ringbuf.NewSPSC(seg, ringName(name, 1), capacity); err != nil {
		return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
	}
	me := procinfo.Self().Word()
	obj, err := seg.Alloc(name, spec(c), func(body []byte) error {
		atomics.MustUint32At(body, offFlags).Store(flags)
		atomics.MustUint64At(body, offMaxLarge).Store(uint64(z.limit))
		for i := range 2 {
			atomics.MustUint64At(body, offEnd0+i*endStride+endOwner).Store(me)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
	}
	if z.arena {
		if _, err := arena.Create(seg, name+".m", name+".d", z.arenaBytes, z.records, z.highWater); err != nil {
			return nil, nil, fmt.Errorf("pipe %q: %w", name, err)
		}
	}
	c0, err := attach(seg, obj, 0, c, o.Wait)
	if err != nil {
		return nil, nil, err
	}
	c1, err := attach(seg, obj, 1, c, o.Wait)
	if err != nil {
		return nil, nil, err
	}
	return c0, c1, nil
}

// Open opens end 0 or 1 of the pipe called name in seg and takes it: the
// calling process becomes the end's holder. o.Codec must be the creator's.
func Open[T any](seg *shm.Segment, name string, end int, o Options[T]) (*Conn[T], error) {
	if end != 0 && end != 1 {
		return nil, fmt.Errorf("pipe: end %d, want 0 or 1", end)
	}
	c := codec.OrDefault(o.Codec)
	sp := spec(c)
	obj, err := seg.Lookup(name, &sp)
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	conn, err := attach(seg, obj, end, c, o.Wait)
	if err != nil {
		return nil, err
	}
	conn.ctl.ends[end].owner.Store(procinfo.Self().Word()) // publishes: this process holds the end
	return conn, nil
}

// New makes a pipe in an anonymous segment of its own, as Python's Pipe()
// does; its ends reach worker processes as arguments of process's Start.
// The segment is unmapped from this process when both ends are closed.
func New[T any](o Options[T]) (*Conn[T], *Conn[T], error) {
	capacity := o.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	z := sizeFor(o, capacity, true)
	size, opts := z.segment(capacity, 16<<10)
	seg, err := shm.CreateAnon(size, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	c0, c1, err := create(seg, "pipe", o, capacity, z)
	if err != nil {
		seg.Close()
		return nil, nil, err
	}
	ref := &segRef{seg: seg}
	ref.refs.Store(2)
	c0.seg0, c1.seg0 = ref, ref
	return c0, c1, nil
}

func attach[T any](seg *shm.Segment, obj *shm.Object, end int, c codec.Codec[T], w atomics.Strategy) (*Conn[T], error) {
	ctl, err := controlAt(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("pipe %q: %w", obj.Name, err)
	}
	conn := &Conn[T]{seg: seg, name: obj.Name, end: end, ctl: ctl, codec: c}
	conn.bin, _ = c.(*codec.Binary[T])
	duplex := ctl.flags&flagDuplex != 0
	if end == 1 || duplex {
		if conn.send, err = ringbuf.OpenSPSC(seg, ringName(obj.Name, end)); err != nil {
			return nil, fmt.Errorf("pipe %q: %w", obj.Name, err)
		}
		conn.tx = ringx.ProducerOf(conn.send)
		conn.sendMax = conn.send.MaxRecord()
	}
	if end == 0 || duplex {
		if conn.recv, err = ringbuf.OpenSPSC(seg, ringName(obj.Name, 1-end)); err != nil {
			return nil, fmt.Errorf("pipe %q: %w", obj.Name, err)
		}
		conn.rx = ringx.ConsumerOf(conn.recv)
	}
	if ctl.flags&flagArena != 0 {
		if ctl.maxLarge > maxLimit {
			return nil, fmt.Errorf("%w: pipe %q allows %d-byte messages", ErrCorrupt, obj.Name, ctl.maxLarge)
		}
		if conn.arena, err = arena.Open(seg, obj.Name+".m", obj.Name+".d"); err != nil {
			return nil, fmt.Errorf("pipe %q: %w", obj.Name, err)
		}
	}
	conn.setWait(w)
	return conn, nil
}

func (c *Conn[T]) setWait(w atomics.Strategy) {
	c.sendWait = atomics.WaitOptions{Strategy: w, Poll: pollPeer, Check: c.peerDead}
	c.recvWait = atomics.WaitOptions{Strategy: w, Poll: pollPeer, Check: c.rescue}
}

// rescue is a blocked receive's periodic check: the ring skips a record
// its dead producer left half-written, then the peer's liveness decides.
// The ring's own verdict on its producers (ErrPeerDead) does not: it
// counts every process that ever sent on the end, and one that handed
// the end on to a worker and exited is dead while the end's holder, the
// worker, lives and may send (TestRecvAfterSenderHandedEndOnAndExited).
func (c *Conn[T]) rescue() error {
	err := c.rx.Rescue()
	if errors.Is(err, ringbuf.ErrCorrupt) {
		err = fmt.Errorf("pipe %q: %w", c.name, err)
	} else {
		err = c.peerDead()
	}
	if errors.Is(err, ErrPeerDead) {
		c.reclaim() // the blocks the dead sender placed and never sent
	}
	return err
}

func (c *Conn[T]) peerDead() error {
	if w := c.ctl.ends[1-c.end].owner.Load(); w != 0 && !procinfo.AliveWord(w) {
		return fmt.Errorf("%w: the process holding end %d of pipe %q (%v) has exited", ErrPeerDead, 1-c.end, c.name, procinfo.FromWord(w))
	}
	return nil
}

// Send encodes v and sends it as one message, waiting while the pipe is
// full until ctx is done. It returns io.ErrClosedPipe once the peer has
// closed its end, ErrPeerDead if the peer's process died.
func (c *Conn[T]) Send(ctx context.Context, v T) error {
	if err := c.sendMu.LockContext(ctx); err != nil {
		return err
	}
	defer c.sendMu.Unlock()
	if c.bin != nil {
		return c.sendFunc(ctx, c.bin.Size(&v), func(rec []byte) error {
			_, err := c.bin.Append(rec[:0], &v)
			return err
		})
	}
	w := v // only a copy reaches the codec interface (see queue.tryPut)
	n := c.codec.Size(&w)
	if n >= 0 {
		return c.sendFunc(ctx, n, func(rec []byte) error {
			b, err := codec.AppendShared(c.codec, rec[:0], &w)
			if err == nil && len(b) != n {
				err = fmt.Errorf("pipe: codec %s wrote %d bytes, Size said %d", codec.Name(c.codec), len(b), n)
			}
			return err
		})
	}
	b, err := c.codec.Append(c.scratch[:0], &w)
	if err != nil {
		return err
	}
	c.scratch = b
	return c.sendFunc(ctx, len(b), func(rec []byte) error {
		memcopy.Copy(rec, b)
		return nil
	})
}

// SendBytes sends b as one message (see Send).
func (c *Conn[T]) SendBytes(ctx context.Context, b []byte) error {
	if err := c.sendMu.LockContext(ctx); err != nil {
		return err
	}
	defer c.sendMu.Unlock()
	return c.sendFunc(ctx, len(b), func(rec []byte) error {
		memcopy.Copy(rec, b)
		return nil
	})
}

// sendFunc reserves n bytes in the ring, lets fill write them in place, and
// commits them. sendMu is held.
func (c *Conn[T]) sendFunc(ctx context.Context, n int, fill func(rec []byte) error) error {
	if c.send == nil {
		return ErrOneWay
	}
	if c.arena != nil && (n > c.send.MaxRecord() || n == refLen) {
		return c.sendLarge(ctx, n, fill)
	}
	return c.sendRecord(ctx, n, fill)
}

// sendRecord is sendFunc for a message that goes in the ring.
func (c *Conn[T]) sendRecord(ctx context.Context, n int, fill func(rec []byte) error) error {
	if n > c.send.MaxRecord() {
		return fmt.Errorf("%w: pipe %q: message of %d bytes, the limit is %d (Options.MaxMessage)", ErrTooLarge, c.name, n, c.send.MaxRecord())
	}
	var rec []byte
	reserve := func() (bool, error) {
		if c.closed.Load() || c.ctl.ends[c.end].closed.Load() != 0 {
			return false, ErrClosed
		}
		if c.ctl.ends[1-c.end].closed.Load() != 0 { // observes: peer's Close
			return false, io.ErrClosedPipe
		}
		var ok bool
		var err error
		rec, ok, err = c.send.TryReserve(n)
		return ok, err
	}
	ok, err := reserve()
	if !ok && err == nil {
		err = c.ctl.space[c.end].WaitFor(ctx, &c.sendWait, &c.sendSpin, c.sendProbe, reserve)
	}
	if err != nil {
		return err
	}
	if err := fillOrUndo(fill, rec, c.send.Cancel); err != nil {
		c.send.Cancel()
		return err
	}
	c.send.Commit() // publishes: the message
	c.ctl.data[c.end].Notify()
	return nil
}

// fillOrUndo runs fill on rec, and undo on the way out if fill panics (a
// codec's bug that the caller recovers), before the panic goes on: a
// reservation left outstanding made every later Send panic, and an arena
// block left allocated was lost to both ends.
func fillOrUndo(fill func(rec []byte) error, rec []byte, undo func()) error {
	panicked := true
	defer func() {
		if panicked {
			undo()
		}
	}()
	err := fill(rec)
	panicked = false
	return err
}

// sendProbe and recvProbe are what a blocked send and receive spin on: a
// few loads that change when a try may succeed (room or a record in the
// ring, a Close at either end), so that a spinning waiter runs no try, and
// notifies nobody, per look.
func (c *Conn[T]) sendProbe() bool {
	return c.closed.Load() || c.ctl.ends[1-c.end].closed.Load() != 0 || c.tx.Room()
}

func (c *Conn[T]) recvProbe() bool {
	return c.closed.Load() || c.ctl.ends[1-c.end].closed.Load() != 0 || c.rx.Ready()
}

// peek waits for the next message and returns it in place; recvMu is held.
func (c *Conn[T]) peek(ctx context.Context) ([]byte, error) {
	if c.recv == nil {
		return nil, ErrOneWay
	}
	var rec []byte
	ready := func() (bool, error) {
		if c.closed.Load() || c.ctl.ends[c.end].closed.Load() != 0 {
			return false, ErrClosed
		}
		var ok bool
		var err error
		if c.holding {
			rec = c.arena.Bytes(c.held)
			return true, nil
		}
		if rec, ok, err = c.rx.TryPeekQuick(); ok || err != nil {
			if ok && c.arena != nil && len(rec) == refLen {
				rec, err = c.takeLarge(rec)
			}
			return ok, err
		}
		// The ring publishes the consumer's head lazily (every quarter
		// ring, and when it finds itself empty, as now): tell a sender
		// waiting for space.
		c.ctl.space[1-c.end].Notify()
		if c.ctl.ends[1-c.end].closed.Load() != 0 { // observes: peer's Close
			// The peer's last Commit came before its Close: look once more.
			if rec, ok, err = c.rx.TryPeekQuick(); ok || err != nil {
				if ok && c.arena != nil && len(rec) == refLen {
					rec, err = c.takeLarge(rec)
				}
				return ok, err
			}
			return false, io.EOF
		}
		return false, nil
	}
	ok, err := ready()
	if !ok && err == nil {
		err = c.ctl.data[1-c.end].WaitFor(ctx, &c.recvWait, &c.recvSpin, c.recvProbe, ready)
	}
	return rec, err
}

func (c *Conn[T]) discard() {
	freed := c.holding
	if c.holding {
		c.arena.Free(c.held) // before the record: the block is never without an answerer
		c.holding = false
	}
	c.recv.Discard()
	c.readOff = 0
	if freed {
		c.arenaFreed() // the other end's sender too, for the ring
	} else {
		c.ctl.space[1-c.end].Notify()
	}
}

// arenaFreed wakes the senders that wait for the room a block freed at
// this end makes: the arena is both directions', so a sender of a large
// message at either end waits for it, each on its own space event. (A
// receive woke only the other end's, for its ring; a send that failed
// with its block placed woke nobody: a sender slept on until its poll,
// 50 ms. TestFreedBlockWakesEitherSender.)
func (c *Conn[T]) arenaFreed() {
	c.ctl.space[c.end].Notify()
	c.ctl.space[1-c.end].Notify()
}

// Recv waits for the next message and decodes it, until ctx is done. It
// returns io.EOF once the peer has closed its end and every message it sent
// has been received, ErrPeerDead if the peer's process died.
func (c *Conn[T]) Recv(ctx context.Context) (T, error) {
	var v T
	err := c.RecvInto(ctx, &v)
	return v, err
}

// RecvInto is Recv decoding into *v.
func (c *Conn[T]) RecvInto(ctx context.Context, v *T) error {
	if err := c.recvMu.LockContext(ctx); err != nil {
		return err
	}
	defer c.recvMu.Unlock()
	rec, err := c.peek(ctx)
	if err != nil {
		return err
	}
	if err := c.decode(rec, v); err != nil {
		return fmt.Errorf("pipe %q: %w", c.name, err)
	}
	return nil
}

// decode decodes rec, the message peek returned, into *v and discards it:
// also when the codec panics (a bug that the caller recovers), so the
// message is consumed, as by a decoding error. Left at the head, it made
// every later receive panic on it again.
func (c *Conn[T]) decode(rec []byte, v *T) error {
	defer c.discard()
	if c.bin != nil {
		return c.bin.Decode(rec, v)
	}
	var w T
	err := c.codec.Decode(rec, &w)
	*v = w
	return err
}

// RecvBytes waits for the next message and returns a copy of its bytes.
func (c *Conn[T]) RecvBytes(ctx context.Context) ([]byte, error) {
	if err := c.recvMu.LockContext(ctx); err != nil {
		return nil, err
	}
	defer c.recvMu.Unlock()
	rec, err := c.peek(ctx)
	if err != nil {
		return nil, err
	}
	b := append([]byte(nil), rec...)
	c.discard()
	return b, nil
}

// Peek waits for the next message and returns its bytes in place, in
// shared memory, with no copy. They stay valid and unchanged until Discard,
// which must come before the next receive; Peek again before Discard
// returns the same message.
func (c *Conn[T]) Peek(ctx context.Context) ([]byte, error) {
	if err := c.recvMu.LockContext(ctx); err != nil {
		return nil, err
	}
	defer c.recvMu.Unlock()
	return c.peek(ctx)
}

// Discard frees the message Peek returned: the sender may reuse its bytes.
func (c *Conn[T]) Discard() {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if c.closed.Load() {
		return
	}
	c.discard()
}

// All returns an iterator over the values received on c: each step is a
// Recv. The loop ends when the peer has closed its end and everything it
// sent has been received (io.EOF); any other error (ctx done, ErrPeerDead,
// ErrClosed, a message that does not decode) is yielded once, with the
// zero T, and ends it. Breaking out early leaves the rest to the next
// receive.
//
//	for v, err := range conn.All(ctx) {
//		if err != nil { ... }
//		use(v)
//	}
func (c *Conn[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			var v T
			err := c.RecvInto(ctx, &v)
			if err == io.EOF {
				return
			}
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// Poll reports whether a Recv would return at once (a message is waiting,
// or the peer has closed), waiting for that until ctx is done. A ctx that
// ends gives false and no error, as Python's poll(timeout) does; a dead
// peer gives ErrPeerDead.
func (c *Conn[T]) Poll(ctx context.Context) (bool, error) {
	if err := c.recvMu.LockContext(ctx); err != nil {
		return false, nil // ctx ended: not ready, as below
	}
	defer c.recvMu.Unlock()
	_, err := c.peek(ctx)
	switch {
	case err == nil || err == io.EOF:
		return true, nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return false, nil
	}
	return false, err
}

// Ready reports whether a receive would return at once: a message is
// waiting (or was peeked and not discarded), or an end has closed. It
// never blocks, and costs a few loads: it is the probe of a goroutine
// that serves many pipes in turn and receives only from those that are
// ready. A dead peer is not reported: a receive that waits says it
// (ErrPeerDead). While a receive of another goroutine is in flight on c,
// Ready reports false: the next receive waits for that one.
func (c *Conn[T]) Ready() bool {
	// TryLock: a receive that waits holds the lock for as long as it
	// waits, and Ready waited with it (TestReadyWhileRecvWaits). Close
	// holds it too, briefly: a closed handle's receive returns at once.
	if !c.recvMu.TryLock() {
		return c.closed.Load()
	}
	defer c.recvMu.Unlock()
	return c.recv != nil && (c.holding || c.recvProbe() || c.ctl.ends[c.end].closed.Load() != 0)
}

// Read reads the pipe as a byte stream: it copies bytes of the next message
// into p, keeping the rest for the next Read. It blocks until a message
// comes, and returns io.EOF once the peer has closed and all is read.
func (c *Conn[T]) Read(p []byte) (int, error) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	for {
		rec, err := c.peek(context.Background())
		if err != nil {
			return 0, err
		}
		n := memcopy.CopyOut(p, rec[c.readOff:])
		c.readOff += n
		if c.readOff == len(rec) {
			c.discard()
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
}

// Write writes p to the pipe as a byte stream, in messages of at most the
// ring's largest record.
func (c *Conn[T]) Write(p []byte) (int, error) {
	if c.sendMax == 0 { // (c.send is sendMu's: a handoff replaces it)
		return 0, ErrOneWay
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.sendMax)
		if err := c.SendBytes(context.Background(), p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// Close says this process is done with this end, Python's
// Connection.close. When this process holds the end, the end closes: the
// peer's Recv returns what is left and then io.EOF, its Send returns
// io.ErrClosedPipe. When the end was handed to a worker (an argument of
// process.Start), Close only drops this process's copy, as closing an
// inherited descriptor does, and the worker's end stays open. Calls on c
// in other goroutines wake and return ErrClosed, Close waits for them, and
// later calls return ErrClosed. Close unmaps what c alone uses: the
// anonymous segment of a pipe made by New once both its ends are closed,
// the mapping a worker's decoded end attached. Closing twice is harmless.
func (c *Conn[T]) Close() error {
	if c.ctl == nil || !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	end := &c.ctl.ends[c.end]
	if end.owner.Load() == procinfo.Self().Word() {
		end.closed.Store(1) // publishes: this end is closed
	}
	c.wakeAll()
	// This handle's calls in flight hold the locks: woken above, they see
	// closed and give them up.
	c.sendMu.Lock()
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	defer c.sendMu.Unlock()
	c.wakeAll()
	if c.seg0 != nil && c.seg0.refs.Add(-1) == 0 {
		return c.seg0.seg.Close()
	}
	return nil
}

// wakeAll wakes every waiter on the pipe, in every process.
func (c *Conn[T]) wakeAll() {
	c.ctl.data[c.end].Notify()
	c.ctl.space[1-c.end].Notify()
	c.ctl.data[1-c.end].Notify()
	c.ctl.space[c.end].Notify()
}

// End returns 0 or 1: which end of the pipe c is.
func (c *Conn[T]) End() int { return c.end }

// handle is what a Conn encodes to when it travels to another process.
type handle struct {
	Seg   shm.Handle
	Name  string
	End   int
	Codec string
}

// GobEncode encodes a handle to this end of the pipe. Encoded among the
// arguments of a process.Start, it also makes the child the end's holder
// from the moment the child starts. An end made by Accept or Dial cannot
// travel (its segment no longer has a name): GobEncode returns an error.
func (c *Conn[T]) GobEncode() ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.unnamed {
		// A named segment travels by its name, which Accept and Dial
		// removed: the worker could not attach it, and the handoff below
		// made it the end's holder all the same, so the end was lost to
		// the peer (TestDialedEndHandedToWorker).
		return nil, fmt.Errorf("pipe %q: an end made by Accept or Dial cannot travel to another process: its segment's name is removed", c.name)
	}
	h, err := c.seg.Handle()
	if err != nil {
		return nil, fmt.Errorf("pipe %q: %w", c.name, err)
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(handle{Seg: h, Name: c.name, End: c.end, Codec: codec.Name(c.codec)}); err != nil {
		return nil, err
	}
	if handoff.Active() {
		// The child holds this end from the moment it starts: the peer
		// waits for it while it starts, and gets ErrPeerDead if it dies
		// before attaching, instead of waiting on this process forever.
		owner := c.ctl.ends[c.end].owner
		standIn := procinfo.HandoffWord(procinfo.Self().Word())
		if w := owner.Load(); owner.CompareAndSwap(w, standIn) { // holder -> stand-in
			handoff.Add(handoff.Slot{Word: owner, StandIn: standIn, Prev: w})
		}
		c.handRings()
	}
	return b.Bytes(), nil
}

// handRings lets go of the rings for the worker the end is handed to. A
// ring takes one producer process and one consumer process, and a ring
// side this handle had used stayed this process's: the worker's first
// send or receive failed with ringbuf.ErrBusy while this process lived
// (TestEndUsedThenHandedToWorker). The send ring is detached and reopened
// unattached, the receive ring's consumer side given back (a record read
// here in part stays this handle's); if the handoff is aborted, this
// handle attaches again at its next call. A call in flight on this handle
// keeps its ring: the end is in use here, which no handoff can undo.
func (c *Conn[T]) handRings() {
	if c.send != nil && c.sendMu.TryLock() {
		if r, err := ringbuf.OpenSPSC(c.seg, ringName(c.name, c.end)); err == nil {
			c.send.CloseWrite() // flushes what was sent, frees the producer side
			c.send, c.tx = r, ringx.ProducerOf(r)
		}
		c.sendMu.Unlock()
	}
	if c.recv != nil && c.recvMu.TryLock() {
		if !c.holding && c.readOff == 0 {
			c.recv.ReleaseConsumer() // a record peeked and not discarded is the worker's next
		}
		c.recvMu.Unlock()
	}
}

// GobDecode attaches to the pipe end a handle names (shm.Attach, then Open):
// the decoding process becomes the end's holder. Close closes the end and
// drops the attachment.
func (c *Conn[T]) GobDecode(b []byte) error {
	var h handle
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&h); err != nil {
		return err
	}
	cd, err := codec.ByName[T](h.Codec)
	if err != nil {
		return fmt.Errorf("pipe %q: %w", h.Name, err)
	}
	seg, err := shm.Attach(h.Seg)
	if err != nil {
		return fmt.Errorf("pipe %q: %w", h.Name, err)
	}
	o, err := Open(seg, h.Name, h.End, Options[T]{Codec: cd})
	if err != nil {
		seg.Close()
		return err
	}
	c.seg, c.name, c.end, c.ctl, c.send, c.recv, c.rx, c.tx, c.codec, c.bin = o.seg, o.name, o.end, o.ctl, o.send, o.recv, o.rx, o.tx, o.codec, o.bin
	c.sendMax = o.sendMax
	c.arena = o.arena
	c.setWait(o.sendWait.Strategy)
	c.seg0 = &segRef{seg: seg}
	c.seg0.refs.Store(1) // the attachment is c's: Close drops it
	return nil
}

// noCopy makes go vet's copylocks check flag copies of a Conn.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
