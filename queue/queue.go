package queue

import (
	"bytes"
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/internal/arena"
	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/notify"
	"github.com/shmkit/shmkit/internal/pod"
	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// Options configure a queue. Only Create reads the bounds; every process
// passes the same Codec (the queue's type fingerprint includes the codec's
// name, so a mismatch is ErrIncompatible on Open).
type Options[T any] struct {
	// MaxSize bounds the number of queued messages (Python's maxsize).
	// 0 means DefaultMaxSize. The ring gets the next power of two slots,
	// or more, up to 4 × MaxSize: more while they span less than 256
	// KiB, and for a codec of fixed-size messages (codec.Binary) of up to
	// 240 bytes at least 2 × MaxSize while the ring spans at most 4 MiB
	// (small messages stream faster through a longer ring, and faster
	// still with slots to spare; it is still held to MaxSize messages).
	MaxSize int
	// MaxMessage is the largest encoded message, in bytes; a larger one
	// is ErrTooLarge. A message that fits a ring slot (SlotSize) travels
	// in it; a larger one is placed out of line in the queue's arena of
	// shared pages, reserved as messages need them (memory grows with
	// use, not with this limit), and its slot carries a reference. 0
	// means the codec's fixed size when it has one (codec.Binary); else
	// DefaultMaxMessage for New and NewJoinable, and SlotSize for a queue
	// made by Create in a segment of the caller's, whose arena would take
	// 4 × MaxMessage bytes of that segment.
	MaxMessage int
	// SlotSize is the largest message a ring slot holds. 0 means, for a
	// codec of fixed-size messages (codec.Binary), the message's size
	// (or MaxMessage); for another codec MaxMessage when that is set and
	// at most 64 KiB, else DefaultSlotSize. A fixed-size message's slot is
	// packed (see Create), and a SlotSize larger than the message widens
	// it: 112 for 64-byte messages gives slots of two whole cache lines,
	// which a request answered one at a time through a pair of queues
	// takes about 50 ns sooner, and which a batched stream moves a third
	// slower. A slot holds at most 16 MiB (ringbuf.MaxSlotBytes); a queue
	// whose slot would be larger is refused.
	SlotSize int
	// MaxBytes, when positive, also bounds the encoded bytes queued (an
	// out-of-line message counts its whole pages and its slot). A
	// message always fits an empty queue, however large. The bytes are
	// read from the ring when a Put would pass the bound by message count
	// alone (a scan of the queued slots), and Puts racing each other may
	// pass it by one message each. A MaxBytes that the message bound
	// already keeps the queue under (MaxSize × the slot's message size,
	// no arena) is never checked, and costs nothing.
	MaxBytes int64
	// Codec encodes the messages; nil means codec.Default[T]().
	Codec codec.Codec[T]
	// Wait selects how a blocked Put or Get waits (atomics.Park by
	// default). Its Poll and Check fields are the queue's own.
	Wait atomics.Strategy
}

const (
	// DefaultMaxSize is the message bound of a queue made with MaxSize 0.
	DefaultMaxSize = 1024
	// DefaultMaxMessage is the largest message of a queue made by New
	// whose codec does not have a fixed size, unless Options.MaxMessage
	// says otherwise.
	DefaultMaxMessage = 64 << 20
	// DefaultSlotSize is the slot size of a queue whose codec does not
	// have a fixed size, unless Options.SlotSize or a MaxMessage of at
	// most 64 KiB says otherwise.
	DefaultSlotSize = 256
	// pollPeers is how often a blocked Put or Get checks that the other
	// side still has a live process.
	pollPeers = 50 * time.Millisecond
	// ringParticipants is the ring's participant slots: one per process
	// that uses the queue at a time (a dead process's slot is reused).
	ringParticipants = 64
)

// Queue is a FIFO queue of T values shared by any number of producer and
// consumer processes (and goroutines), Python's multiprocessing.Queue: the
// values are encoded by a codec into a lock-free MPMC ring in shared memory
// (ringbuf's Vyukov ring with fixed-size slots) and decoded by whoever gets
// them. Messages from one producer goroutine are got in the order it put
// them.
//
// Create or Open one by name in a segment, or New one in an anonymous
// segment of its own. A *Queue is safe for concurrent use. It travels to a
// worker process as a handle inside the worker's arguments (GobEncode).
// Copying a Queue value is not allowed: share the pointer.
type Queue[T any] struct {
	noCopy noCopy
	seg    *shm.Segment
	name   string
	ctl    *control
	ring   *ringbuf.MPMC
	rx     ringx.MPMC // ring's machinery: rescues, outstanding count
	codec  codec.Codec[T]
	bin    *codec.Binary[T] // codec, when it is the binary one: the zero-allocation path
	ownSeg bool             // New made seg, or GobDecode attached it: Close closes it
	arena  *arena.Arena     // out-of-line messages; nil when every message fits a slot
	refLen int              // the length of a slot that holds an arena reference

	// calls counts the calls using the mapping, which Close waits out
	// before it unmaps; closed, set first, makes the calls in flight
	// return ErrClosed and later ones fail at once.
	calls  inFlight
	closed atomic.Bool

	// holdMu guards holdCh and holdClosed: the channel a hold (see hold.go)
	// waits on, made at the first hold, closed by Close before it waits for
	// the calls; holdClosed, set by Close, makes a later hold's channel
	// closed from the start.
	holdMu     sync.Mutex
	holdCh     chan struct{}
	holdClosed bool

	joinable bool
	// fast: Put and Get may take putFast and getFast (binary codec, no
	// arena, no MaxBytes that can bind): config, set when the handle is
	// made.
	fast bool
	// notifyPut and notifyGot are the wakes putFast and getFast hand the
	// ring, bound once (see bindWakes) so that no call makes a closure.
	notifyPut, notifyGot func()
	// maxBytes is MaxBytes where it can bind; 0 where the message bound
	// keeps the queue within it (see bytesBind).
	maxBytes int64

	putWait, getWait atomics.WaitOptions
	putSpin, getSpin spin.Adaptive // this handle's learnt spins (see package spin)

	prodJoined, consJoined atomic.Bool // this process is in the peer tables

	// streaming: this handle's last Get found a message without waiting,
	// so the next one that waits waits for a run (see ringx.DataGate).
	streaming atomic.Bool

	taskMu sync.Mutex
	task   atomic.Pointer[taskRecord] // Joinable: this process's task record, found on first use
	// lostSeen is the count of lost tasks (control's lost) up to which
	// this handle's Joins have reported: the count when the handle was
	// made, raised by each Join that reports. Written by attach and Join.
	lostSeen atomic.Uint64

	scratch sync.Pool // *[]byte, for codecs of unknown size
}

// typeID fingerprints T together with the codec's name.
func typeID[T any](c codec.Codec[T]) shm.TypeID {
	id := pod.TypeID(reflect.TypeFor[T]())
	h := fnv.New64a()
	h.Write([]byte(codec.Name(c)))
	id.Hash ^= h.Sum64()
	return id
}

func spec[T any](c codec.Codec[T], capacity uint64) shm.ObjectSpec {
	return shm.ObjectSpec{Kind: shm.KindQueue, Version: layoutVersion, Type: typeID(c), Capacity: capacity, BodySize: bodySize}
}

// ringName is the name of the ring object of queue name.
func ringName(name string) string { return name + ".r" }

// MaxName is the longest queue name: the ring object's name adds two bytes.
const MaxName = shm.MaxObjectName - 2

// Create makes a new queue called name in seg, with its ring "<name>.r"
// (and, for a queue with an arena, see Options.MaxMessage, "<name>.m" and
// "<name>.d"). It returns shm.ErrExist if one of those names is taken, and
// shm.ErrNoSpace if seg has no room for them all (its directory, or its
// bytes), having placed nothing, unless another process places objects in
// seg at the same time: objects are never freed, so Create looks before it
// places the first (shm.Segment.CanAlloc), and only one that fails after
// that look leaves the objects placed before it. A queue takes
// MaxSize (rounded up to a power of two, see Options.MaxSize for more)
// slots of MaxMessage+16 bytes rounded up to a cache line (for a codec of
// fixed-size messages, the message's size, or MaxMessage, or SlotSize if
// larger, +16, rounded up to 8 bytes and at least a line), plus 7 KiB
// (6784 bytes: the control block, the ring's participant table and both
// object headers).
func Create[T any](seg *shm.Segment, name string, o Options[T]) (*Queue[T], error) {
	return create(seg, name, o, 0)
}

func create[T any](seg *shm.Segment, name string, o Options[T], flags uint32) (*Queue[T], error) {
	if len(name) > MaxName {
		return nil, fmt.Errorf("queue: name %q longer than %d bytes", name, MaxName)
	}
	c := codec.OrDefault(o.Codec)
	if err := checkBounds(c, o); err != nil {
		return nil, err
	}
	z := sizeFor(c, o, flags&flagArena != 0)
	if err := z.check(); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	flags &^= flagArena
	if z.arena {
		flags |= flagArena
	}
	if err := seg.CanAlloc(placements(c, name, z)...); err != nil { // placing nothing when one would fail: objects are never freed
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	maxSize, slots := z.maxSize, z.slots
	bound := uint32(maxSize)
	if maxSize == slots {
		bound = 0 // the ring's slots bound it
	}
	r, err := ringbuf.NewMPMC(seg, ringName(name), slots, z.slotPayload(), ringbuf.WithProducers(ringParticipants), ringbuf.WithLimit(int(bound)))
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	obj, err := seg.Alloc(name, spec(c, uint64(maxSize)), func(body []byte) error {
		writeConfig(body, bound, uint32(z.inline), uint64(o.MaxBytes), flags, uint64(z.limit))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	if z.arena {
		if _, err := arena.Create(seg, arenaMeta(name), arenaData(name), z.arenaBytes, z.records, z.highWater); err != nil {
			return nil, fmt.Errorf("queue %q: %w", name, err)
		}
	}
	return attach(seg, obj, r, c, o.Wait)
}

// placements are the objects create places for queue name of geometry
// z, in the order it places them, with their bodies' sizes: what it asks
// shm.Segment.CanAlloc room for (TestPlacementsAreWhatCreatePlaces).
func placements[T any](c codec.Codec[T], name string, z sizing) []shm.Placement {
	objs := []shm.Placement{
		{Name: ringName(name), BodySize: ringx.MPMCBodySize(z.slots, z.slotPayload(), ringParticipants)},
		{Name: name, BodySize: spec(c, uint64(z.maxSize)).BodySize},
	}
	if z.arena {
		objs = append(objs, arena.Placements(arenaMeta(name), arenaData(name), z.arenaBytes, z.records)...)
	}
	return objs
}

// checkBounds refuses the bounds no queue can have: negative ones, a
// MaxSize past the most slots a ring has (sizing the ring for one would
// not end, or ask for a segment of terabytes), and a slot past the
// largest a ring holds (see sizing.check; for a codec of fixed-size
// messages the SlotSize or MaxMessage its slot holds is refused before
// the slot's size is summed, where a value near the largest int would
// wrap).
func checkBounds[T any](c codec.Codec[T], o Options[T]) error {
	if o.MaxSize < 0 || o.MaxMessage < 0 || o.SlotSize < 0 || o.MaxBytes < 0 {
		return fmt.Errorf("queue: negative bound in %+v", o)
	}
	if isFixed(c) && max(o.SlotSize, o.MaxMessage) > ringbuf.MaxSlotBytes {
		return fmt.Errorf("queue: a slot for SlotSize %d, MaxMessage %d: over the largest a ring holds, %d", o.SlotSize, o.MaxMessage, ringbuf.MaxSlotBytes)
	}
	if o.MaxSize > ringbuf.MaxCapacity {
		return fmt.Errorf("queue: MaxSize %d over %d", o.MaxSize, ringbuf.MaxCapacity)
	}
	return nil
}

// slotHeader is ringbuf's MPMC slot header: seq u64, length u32, pad.
const slotHeader = 16

// slotBytes is the ring slot size for messages of up to maxMsg bytes: the
// slot and its 16-byte header rounded up to whole cache lines, so that a
// slot's header never shares a line with its neighbour's payload (the
// producer filling slot i+1 would otherwise take the line the consumer is
// reading slot i from).
func slotBytes(maxMsg int) int {
	return (maxMsg+slotHeader+cacheLine-1)/cacheLine*cacheLine - slotHeader
}

// isFixed reports whether c encodes every value in the same number of
// bytes (Size does not depend on the value).
func isFixed[T any](c codec.Codec[T]) bool {
	_, ok := c.(*codec.Binary[T])
	return ok
}

// Open finds the queue called name in seg. Only o.Codec and o.Wait are
// read; the codec must be the one the queue was created with.
func Open[T any](seg *shm.Segment, name string, o Options[T]) (*Queue[T], error) {
	c := codec.OrDefault(o.Codec)
	sp := spec(c, 0)
	obj, err := seg.Lookup(name, &sp)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	r, err := ringbuf.OpenMPMC(seg, ringName(name))
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	return attach(seg, obj, r, c, o.Wait)
}

// New makes a queue in an anonymous shared-memory segment of its own, as
// Python's Queue() does: it reaches worker processes only as an argument
// of package process's Start. Close unmaps it in this process; the queue
// lives on in the processes still holding it.
func New[T any](o Options[T]) (*Queue[T], error) { return newAnon(o, 0) }

// newAnon's flags may hold flagArena: here it means "the default limit is
// DefaultMaxMessage" (create decides whether the queue gets an arena).

func newAnon[T any](o Options[T], flags uint32) (*Queue[T], error) {
	seg, err := newSegment(o)
	if err != nil {
		return nil, err
	}
	q, err := create(seg, "queue", o, flags|flagArena)
	if err != nil {
		seg.Close()
		return nil, err
	}
	q.ownSeg = true
	return q, nil
}

func newSegment[T any](o Options[T]) (*shm.Segment, error) {
	c := codec.OrDefault(o.Codec)
	if err := checkBounds(c, o); err != nil {
		return nil, err
	}
	z := sizeFor(c, o, true)
	if err := z.check(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	size := int64(z.slots)*int64(z.slotPayload()+slotHeader) + 64<<10 // slots, participants, control block
	var opts []shm.Option
	if z.arena {
		meta, data := arena.Sizes(z.arenaBytes, z.records)
		size += int64(meta+data) + 2*shm.ObjectHeaderSize + 2*shm.CacheLine
		opts = append(opts, shm.WithSparse(int64(data-arena.PageSize)))
	}
	seg, err := shm.CreateAnon(size, opts...)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return seg, nil
}

func attach[T any](seg *shm.Segment, obj *shm.Object, r *ringbuf.MPMC, c codec.Codec[T], w atomics.Strategy) (*Queue[T], error) {
	ctl, err := controlAt(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", obj.Name, err)
	}
	if int(ctl.maxMessage) > r.SlotBytes() {
		return nil, fmt.Errorf("%w: queue %q allows %d-byte messages in %d-byte slots", ErrCorrupt, obj.Name, ctl.maxMessage, r.SlotBytes())
	}
	if !ctl.attached.Join() {
		ctl.overflow.Store(1) // an untracked holder: never conclude the other side is gone
	}
	q := &Queue[T]{seg: seg, name: obj.Name, ctl: ctl, ring: r, rx: ringx.MPMCOf(r), codec: c}
	q.lostSeen.Store(ctl.lost.Load())
	if ctl.flags&flagArena != 0 {
		if int(ctl.maxMessage) >= r.SlotBytes() || r.SlotBytes() < arena.RefSize || ctl.maxLarge > maxLimit {
			return nil, fmt.Errorf("%w: queue %q has %d-byte slots for %d-byte inline messages (limit %d)", ErrCorrupt, obj.Name, r.SlotBytes(), ctl.maxMessage, ctl.maxLarge)
		}
		if q.arena, err = arena.Open(seg, arenaMeta(obj.Name), arenaData(obj.Name)); err != nil {
			return nil, fmt.Errorf("queue %q: %w", obj.Name, err)
		}
		q.refLen = r.SlotBytes()
		q.rx.OnGivenUp(q.discardGivenUp)
	}
	q.bin, _ = c.(*codec.Binary[T])
	q.joinable = ctl.flags&flagJoinable != 0
	q.maxBytes = bytesBind(ctl, q.arena != nil, q.capacity())
	q.fast = q.bin != nil && q.arena == nil && q.maxBytes == 0
	q.putWait = atomics.WaitOptions{Strategy: w, Poll: pollPeers, Check: q.consumersDead}
	q.getWait = atomics.WaitOptions{Strategy: w, Poll: pollPeers, Check: q.producersDead}
	q.bindWakes()
	return q, nil
}

// bindWakes binds the wakes of putFast and getFast to q.
func (q *Queue[T]) bindWakes() {
	q.notifyPut, q.notifyGot = q.ctl.notEmpty.Notify, q.released
}

// consumersDead is a blocked Put's periodic check: the ring skips slots at
// its head that producers died filling, then the consumer table says
// whether anybody is left to make room. (A message that a consumer died
// taking stays in its slot until a live consumer adopts it.)
func (q *Queue[T]) consumersDead() error {
	retry, err := q.rx.RescueFull()
	if errors.Is(err, ringbuf.ErrCorrupt) {
		return fmt.Errorf("queue %q: %w", q.name, err)
	}
	if retry || q.reclaim() {
		q.wakeAll() // the others too: see wakeAll
		return notify.Recheck
	}
	if q.ctl.overflow.Load() == 0 && notify.Gone(q.ctl.consumers, q.ctl.producers, q.ctl.attached) {
		return fmt.Errorf("%w: every consumer of queue %q has exited", ErrPeerDead, q.name)
	}
	return nil
}

// producersDead is a blocked Get's periodic check: the ring marks slots
// claimed by producers that died mid-Put as abandoned (so that Gets move
// past them) and readies messages that consumers died taking (so that this
// Get adopts them); then the producer table says whether anybody is left.
func (q *Queue[T]) producersDead() error {
	retry, err := q.rx.RescueEmpty()
	if errors.Is(err, ringbuf.ErrCorrupt) {
		return fmt.Errorf("queue %q: %w", q.name, err)
	}
	if retry || q.reclaim() {
		q.wakeAll() // the others too: see wakeAll
		return notify.Recheck
	}
	if q.ctl.overflow.Load() == 0 && notify.Gone(q.ctl.producers, q.ctl.consumers, q.ctl.attached) {
		return fmt.Errorf("%w: every producer of queue %q has exited", ErrPeerDead, q.name)
	}
	return nil
}

// joinProducers records this process as a producer, once.
func (q *Queue[T]) joinProducers() {
	if !q.prodJoined.Load() {
		q.ctl.producers.Join() // idempotent: a racing second call finds its own word
		q.prodJoined.Store(true)
	}
}

func (q *Queue[T]) joinConsumers() {
	if !q.consJoined.Load() {
		q.ctl.consumers.Join()
		q.consJoined.Store(true)
	}
}

// Put adds v to the queue, waiting while it is full until ctx is done. It
// returns ErrShutdown once the queue is shut down, ErrTooLarge for a
// message over MaxMessage, ErrPeerDead when it waits on a full queue whose
// consumers have all exited, and ErrClosed on a closed handle. A Put that
// finds the queue full waits for room for a quarter of the queue, not for
// the first slot freed, for up to 20 µs: a waiting producer then reads a
// line the consumers are done with, not the one they are emptying.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	if q.fast {
		if ok, err := q.putFast(&v); ok || err != nil {
			return err
		}
	}
	if !q.enter() {
		return ErrClosed
	}
	defer q.calls.leave()
	q.joinProducers()
	return q.put(ctx, &v)
}

// putFast puts v into a slot while it holds this handle's producer lock,
// which Close takes before the ring and the mapping go: a Put that goes
// in at once then needs no count in calls, two locked instructions fewer
// (each waits for the stores before it: a quarter of a Put's time in a
// profile). It serves the queues of q.fast, and reports false with no
// error when Put's counted path must do the work: the handle not yet a
// producer (its first Put attaches it), closing, shut down (tryPut says
// so), or the queue full. The ring takes the lock and claims in one call,
// and publishes, wakes and unlocks in another (ringx.MPMC.ClaimPut): four
// calls through the interface and a deferred unlock cost Put and Get in
// one process about 5 ns of 52 (BenchmarkPutGetInt64). The looks at
// closed come before the lock: a Put racing with Close may go in, which
// the ring's own look under the lock keeps safe, as long as the Put reads
// nothing of the mapping before it; so the ring looks at the shutdown
// word, under its lock (TestFastCallsAfterCloseUnmapped).
func (q *Queue[T]) putFast(v *T) (bool, error) {
	if q.closed.Load() || !q.prodJoined.Load() {
		return false, nil
	}
	n := q.bin.Size(v)
	if n > int(q.ctl.maxMessage) {
		return false, nil // tryPut says why
	}
	pos, slot, ok, err := q.rx.ClaimPut(q.ctl.shutdown) // observes: Shutdown (under the ring's lock)
	if !ok {
		if err != nil {
			return false, fmt.Errorf("queue %q: %w", q.name, err)
		}
		return false, nil
	}
	if testHookFast != nil {
		testHookFast() // a kill point: the slot claimed, the message not yet written
	}
	q.bin.Append(slot[:0], v)
	q.rx.PublishPut(pos, n, q.notifyPut) // publishes: the message
	return true, nil
}

// PutBatch puts the values of vs in order, as Put would one by one, and
// returns how many it put: len(vs), or the count before the error that
// stopped it (the errors of Put). Values that go into ring slots are put
// a run at a time: one claim of as many slots as are free (LMAX
// Disruptor's batch claim, see ringbuf.MPMC.PutBatchFunc) and one wake
// per run, the values published 8 at a time as they are written, so a
// consumer that spins on the first does not wait for the last (one parked
// is woken once, after the run's last value). When fewer
// slots are free than its run (up to a quarter of the queue), it waits up
// to 20 µs for room for the run before it takes what there is (not once
// ctx is done). A value placed out of line, or any value of a queue whose
// MaxBytes can bind (see Options.MaxBytes), goes alone, as Put.
func (q *Queue[T]) PutBatch(ctx context.Context, vs []T) (int, error) {
	if !q.enter() {
		return 0, ErrClosed
	}
	defer q.calls.leave()
	q.joinProducers()
	for i := 0; i < len(vs); {
		k := q.runLen(vs[i:])
		if k == 0 {
			if err := q.put(ctx, &vs[i]); err != nil {
				return i, err
			}
			i++
			continue
		}
		n, err := q.putRun(ctx, vs[i:i+k])
		if i += n; err != nil {
			return i, err
		}
	}
	return len(vs), nil
}

// size returns the encoded size of *v when the codec knows it up front,
// else -1. Only copies reach the codec interface (see encode).
func (q *Queue[T]) size(v *T) int {
	if q.bin != nil {
		return q.bin.Size(v)
	}
	w := *v
	return q.codec.Size(&w)
}

// runLen returns how many values from the start of vs can be put as one
// run of ring slots: their sizes known up front and within MaxMessage, and
// no MaxBytes bound that can bind (which counts the bytes one message at
// a time).
func (q *Queue[T]) runLen(vs []T) int {
	if q.maxBytes != 0 {
		return 0
	}
	if q.bin != nil { // one size for every value
		if len(vs) == 0 || q.bin.Size(&vs[0]) > int(q.ctl.maxMessage) {
			return 0
		}
		return min(len(vs), ringbuf.MaxRun)
	}
	k := 0
	for k < len(vs) && k < ringbuf.MaxRun {
		if n := q.size(&vs[k]); n < 0 || n > int(q.ctl.maxMessage) {
			break
		}
		k++
	}
	return k
}

// putRun puts a run of vs (see runLen), waiting while the queue is full,
// and returns how many it put: at least one, or none with an error.
func (q *Queue[T]) putRun(ctx context.Context, vs []T) (int, error) {
	put := 0
	g := q.roomFor(len(vs))
	try := func() (bool, error) {
		if !q.mayTry(ctx, &g) {
			return false, nil
		}
		n, err := q.tryPutRun(vs)
		put += n
		return n > 0, err
	}
	ok, err := try()
	if !ok && err == nil {
		err = q.ctl.notFull.WaitFor(ctx, &q.putWait, &q.putSpin, func() bool { return q.roomProbe(&g) }, try)
	}
	return put, err
}

// tryPutRun encodes as many values of vs as there are free slots now
// straight into them, with one claim, and publishes them.
func (q *Queue[T]) tryPutRun(vs []T) (int, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	if q.ctl.shutdown.Load() != 0 { // observes: Shutdown
		return 0, ErrShutdown
	}
	var encErr error
	done := false
	defer wakeIfPanicked(&done, q.gaveUp)
	n, err := q.ring.TryPutBatchFunc(len(vs), func(i int, rec []byte) int {
		if q.bin != nil {
			q.bin.Append(rec[:0], &vs[i])
			return q.bin.Size(&vs[i])
		}
		w := vs[i]
		want := q.codec.Size(&w)
		b, err := codec.AppendShared(q.codec, rec[:0], &w)
		if err == nil && (len(b) != want || (want > 0 && &b[0] != &rec[0])) {
			err = fmt.Errorf("queue: codec %s wrote %d bytes out of place, Size said %d", codec.Name(q.codec), len(b), want)
		}
		if err != nil {
			encErr = err
			return -1 // gives this slot and the rest of the run up; consumers skip them
		}
		return want
	}) // publishes: the messages
	done = true
	if n > 0 {
		q.ctl.notEmpty.Notify()
	}
	if encErr != nil {
		q.gaveUp()
		return n, encErr
	}
	if err != nil {
		return n, fmt.Errorf("queue %q: %w", q.name, err)
	}
	return n, nil
}

// put is Put inside the handle: encode, try, wait while full.
func (q *Queue[T]) put(ctx context.Context, v *T) error {
	var m message
	if err := q.encode(v, &m); err != nil {
		return err
	}
	defer q.done(&m) // also when the codec panics in place (a large message's block freed)
	var err error
	if m.n > int(q.ctl.maxMessage) && q.arena != nil {
		err = q.placeWait(ctx, v, &m)
	}
	if err == nil {
		ok, perr := q.tryPut(v, &m)
		if !ok && perr == nil {
			g := q.roomFor(ringx.PutRoom)
			perr = q.ctl.notFull.WaitFor(ctx, &q.putWait, &q.putSpin, func() bool { return q.roomProbe(&g) }, func() (bool, error) {
				if !q.mayTry(ctx, &g) {
					return false, nil
				}
				return q.tryPut(v, &m)
			})
		}
		err = perr
	}
	return err
}

// TryPut adds v if there is room, without waiting; it reports whether it
// did. The error is for a queue shut down, a closed handle or a message
// that cannot be sent.
func (q *Queue[T]) TryPut(v T) (bool, error) {
	if !q.enter() {
		return false, ErrClosed
	}
	defer q.calls.leave()
	q.joinProducers()
	var m message
	if err := q.encode(&v, &m); err != nil {
		return false, err
	}
	defer q.done(&m) // as put's
	if m.n > int(q.ctl.maxMessage) && q.arena != nil {
		if ok, err := q.place(&v, &m); !ok || err != nil {
			return false, err
		}
	}
	return q.tryPut(&v, &m)
}

// message is a value about to be put: its encoded size, and, for a codec
// that cannot say the size up front, the encoding itself (made once per
// Put, not once per try).
type message struct {
	n      int
	enc    []byte
	pooled *[]byte
	blk    arena.Block // the message, placed out of line (large is set)
	large  bool
}

// encode sizes *v into *m (a zero message) and, when the codec cannot
// size it, encodes it into a pooled buffer. v reaches the codec interface
// only through copies (w), made in the branches that need them: taking
// v's address for an interface call would move every Put's value to the
// heap, binary ones included. m is filled in place, not returned: a
// message returned by value was copied twice more on every Put, 16 bytes
// at a time out of fields just stored 8 at a time, loads that the CPU
// cannot forward from those stores (37% of Put's own time in a profile).
func (q *Queue[T]) encode(v *T, m *message) error {
	if q.bin != nil {
		m.n = q.bin.Size(v)
		return nil
	}
	w := *v
	if n := q.codec.Size(&w); n >= 0 {
		m.n = n
		return nil
	}
	p := q.scratchBuf()
	b, err := q.codec.Append((*p)[:0], &w)
	if err != nil {
		q.scratch.Put(p)
		return err
	}
	*p = b
	m.n, m.enc, m.pooled = len(b), b, p
	return nil
}

// done gives m's buffer back, and its block if it was never sent.
func (q *Queue[T]) done(m *message) {
	if m.large {
		q.arena.Free(m.blk) // a block that was sent is no longer this process's: Free refuses it
		m.large = false
		// Never sent: room for the producers waiting for the arena
		// (placeWait) or for MaxBytes, which counts it
		// (TestUnsentBlockWakesProducers).
		q.ctl.notFull.Notify()
	}
	if m.pooled != nil {
		q.scratch.Put(m.pooled)
	}
}

// Get removes and returns the oldest value, waiting while the queue is
// empty until ctx is done. Once the queue is shut down and empty it
// returns ErrShutdown; when it waits on an empty queue whose producers have
// all exited, ErrPeerDead; on a closed handle, ErrClosed. A message that
// does not decode is consumed and reported (codec.ErrDecode). In a queue
// of fixed-size messages (codec.Binary, and no MaxBytes that binds)
// bound to at least 1024 messages, a handle that has been its only
// consumer, finding just 8 to 63 messages queued, waits once every 64
// Gets up to 5 µs for 256: taken right behind the producers, each
// message would cost both sides a trip of its lines between their cores.
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	var v T
	err := q.GetInto(ctx, &v)
	return v, err
}

// GetInto is Get decoding into *v, which a codec may reuse (codec.Bytes
// copies into the slice already there).
func (q *Queue[T]) GetInto(ctx context.Context, v *T) error {
	if v == nil { // (its panic would come with the message claimed and the handle locked)
		return fmt.Errorf("queue %q: GetInto into a nil pointer", q.name)
	}
	if q.fast && (!q.joinable || q.task.Load() != nil) {
		if ok, err := q.getFast(v); ok || err != nil {
			q.setStreaming(ok)
			return err
		}
	}
	if !q.enter() {
		return ErrClosed
	}
	defer q.calls.leave()
	q.joinConsumers()
	ok, err := q.tryGet(v)
	if ok || err != nil {
		q.setStreaming(ok)
		return err
	}
	g := q.dataFor(ringx.Want(q.streaming.Load(), ringx.DataRun))
	err = q.ctl.notEmpty.WaitFor(ctx, &q.getWait, &q.getSpin, func() bool { return q.dataProbe(&g) }, func() (bool, error) { return q.tryGet(v) })
	q.setStreaming(false)
	return err
}

// testHookFast, when set (by tests), runs inside putFast once its slot is
// claimed and inside getFast once its message is claimed.
var testHookFast func()

// getFast is putFast for GetInto. A JoinableQueue's Get takes it once
// its process holds a task record (its first Get, on the counted path,
// takes one), and counts its task there before it gives the slot back, as
// take does.
func (q *Queue[T]) getFast(v *T) (bool, error) {
	if q.closed.Load() || !q.consJoined.Load() {
		return false, nil
	}
	pos, msg, ok, err := q.rx.ClaimGet()
	if !ok {
		if err != nil {
			return false, fmt.Errorf("queue %q: %w", q.name, err)
		}
		return false, nil
	}
	if testHookFast != nil {
		testHookFast() // a kill point: the message claimed, not yet taken
	}
	derr := q.bin.Decode(msg, v)
	if q.joinable && derr == nil {
		q.task.Load().got.Add(1) // before the slot is given back (see take)
	}
	q.rx.ReleaseGet(pos, q.notifyGot) // publishes: the slot emptied (our reads of it came before)
	if derr != nil {
		if q.joinable {
			q.ctl.join.Notify() // consumed and not counted: see releasedUncounted
		}
		return true, fmt.Errorf("queue %q: %w", q.name, derr) // consumed and reported, as take does
	}
	return true, nil
}

// GetBatch removes the oldest values into vs, as many as are queued now
// (at least one, at most len(vs)), waiting while the queue is empty as
// Get does, and returns how many it got; the errors are those of Get. The
// values come from one claim of a run of slots (the consumer side of LMAX
// Disruptor's batching, see ringbuf.MPMC.GetBatchFunc), decoded in order
// with one wake of waiting producers for the run. A message that does not
// decode is consumed, left out of vs, and reported after the rest of its
// run (the count says how many of vs hold values). A queue whose large
// messages go out of line gets one value per call.
func (q *Queue[T]) GetBatch(ctx context.Context, vs []T) (int, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	if !q.enter() {
		return 0, ErrClosed
	}
	defer q.calls.leave()
	q.joinConsumers()
	got := 0
	try := func() (bool, error) {
		n, err := q.tryGetRun(vs)
		got = n
		return n > 0 || err != nil, err
	}
	if ok, err := try(); ok || err != nil {
		q.setStreaming(got > 0)
		return got, err
	}
	g := q.dataFor(ringx.Want(q.streaming.Load(), len(vs)))
	err := q.ctl.notEmpty.WaitFor(ctx, &q.getWait, &q.getSpin, func() bool { return q.dataProbe(&g) }, try)
	q.setStreaming(false)
	return got, err
}

// setStreaming records whether this handle's last Get found its message
// without waiting (see ringx.DataGate), with a store only when that
// changes: a Get that streams runs no locked instruction for it.
func (q *Queue[T]) setStreaming(atOnce bool) {
	if q.streaming.Load() != atOnce {
		q.streaming.Store(atOnce)
	}
}

// tryGetRun is tryGet for a run of values into vs.
func (q *Queue[T]) tryGetRun(vs []T) (int, error) {
	if q.arena != nil || q.ctl.shutdown.Load() != 0 { // observes: Shutdown
		// One at a time: a large message's block, and the last messages
		// of a shut-down queue, take tryGet's path.
		if ok, err := q.tryGet(&vs[0]); !ok || err != nil {
			return 0, err
		}
		return 1, nil
	}
	if q.closed.Load() {
		return 0, ErrClosed
	}
	i := 0
	var derr error
	uncounted := 0
	defer q.releasedUncounted(&uncounted) // also when nothing was got (see take)
	_, err := q.ring.TryGetBatchFunc(len(vs), func(rec []byte) {
		if q.joinable {
			uncounted++ // until counted (see take)
		}
		var e error
		if q.bin != nil {
			e = q.bin.Decode(rec, &vs[i])
		} else {
			var w T // see tryPut: only copies reach the interface
			e = q.codec.Decode(rec, &w)
			vs[i] = w
		}
		if e != nil {
			derr = cmp.Or(derr, e)
			return // consumed and reported; vs[i] takes the next value
		}
		if q.joinable {
			q.gotTask() // before the slot is given back, as take does
			uncounted--
		}
		i++
	})
	if err != nil {
		return i, fmt.Errorf("queue %q: %w", q.name, err)
	}
	if derr != nil {
		return i, fmt.Errorf("queue %q: %w", q.name, derr)
	}
	return i, nil
}

// TryGet removes and returns the oldest value if there is one, without
// waiting. After Shutdown, an empty queue gives ErrShutdown. While
// another goroutine's Get on this handle waits (for a message, or up to
// 5 µs to keep its distance from a stream, see Get), TryGet reports
// nothing now.
func (q *Queue[T]) TryGet() (T, bool, error) {
	var v T
	if !q.enter() {
		return v, false, ErrClosed
	}
	defer q.calls.leave()
	q.joinConsumers()
	ok, err := q.tryGet(&v)
	return v, ok, err
}

// roomProbe and getProbe are what a blocked Put and Get spin on: a few
// loads that change when a try may succeed (room or a message in the ring,
// Shutdown, Close), so that a spinning waiter runs no try per look. A Put
// gates its tries with roomProbe too (see ringx.RoomGate).
func (q *Queue[T]) roomProbe(g *ringx.RoomGate) bool {
	return q.closed.Load() || q.ctl.shutdown.Load() != 0 || g.Open()
}

// mayTry reports whether a Put may try now: its gate open (roomProbe), or
// ctx done, when it puts what fits now, as Put one by one would (and as
// WaitFor's last try, whose success wins over the context's error).
func (q *Queue[T]) mayTry(ctx context.Context, g *ringx.RoomGate) bool {
	return q.roomProbe(g) || ctx.Err() != nil
}

// roomFor returns the gate of a Put that has k messages at hand (see
// ringx.RoomGate).
func (q *Queue[T]) roomFor(k int) ringx.RoomGate {
	return ringx.NewRoomGate(q.rx, k, q.capacity())
}

// dataProbe is getProbe through a consumer's gate (see ringx.DataGate).
func (q *Queue[T]) dataProbe(g *ringx.DataGate) bool {
	return q.closed.Load() || q.ctl.shutdown.Load() != 0 || g.Open()
}

// dataFor returns the gate of a Get that waits for k messages (see
// ringx.Want).
func (q *Queue[T]) dataFor(k int) ringx.DataGate {
	return ringx.NewDataGate(q.rx, k, q.capacity())
}

func (q *Queue[T]) getProbe() bool {
	return q.closed.Load() || q.ctl.shutdown.Load() != 0 || q.rx.HasData()
}

func (q *Queue[T]) tryPut(v *T, m *message) (bool, error) {
	if q.closed.Load() {
		return false, ErrClosed
	}
	if q.ctl.shutdown.Load() != 0 { // observes: Shutdown
		return false, ErrShutdown
	}
	n, enc := m.n, m.enc
	if n > int(q.ctl.maxMessage) && !m.large {
		return false, q.tooLarge(n)
	}
	if q.maxBytes != 0 && !q.bytesFit(n, m.large) {
		return false, nil
	}
	var encErr error
	done := false
	defer wakeIfPanicked(&done, q.gaveUp)
	ok, err := q.ring.TryPutFunc(func(rec []byte) int {
		switch {
		case m.large:
			arena.EncodeRef(rec, m.blk)
			q.arena.Publish(m.blk) // the message answers for the block from here
			m.large = false
			if testHookPublished != nil {
				testHookPublished() // a kill point: the block queued, the slot not yet published
			}
			return q.refLen
		case q.bin != nil:
			q.bin.Append(rec[:0], v)
		case enc != nil:
			memcopy.Copy(rec, enc)
		default:
			w := *v
			b, err := codec.AppendShared(q.codec, rec[:0], &w)
			if err == nil && (len(b) != n || (n > 0 && &b[0] != &rec[0])) {
				err = fmt.Errorf("queue: codec %s wrote %d bytes out of place, Size said %d", codec.Name(q.codec), len(b), n)
			}
			if err != nil {
				encErr = err
				return -1 // gives the slot up; consumers skip it
			}
		}
		return n
	}) // publishes: the message
	done = true
	if !ok || err != nil || encErr != nil {
		if encErr != nil {
			q.gaveUp()
			return false, encErr
		}
		if err != nil {
			return false, fmt.Errorf("queue %q: %w", q.name, err)
		}
		return false, nil
	}
	q.ctl.notEmpty.Notify()
	return true, nil
}

// wakeIfPanicked, deferred around a Put's ring call, whose callback runs
// a codec, runs wake when the call panicked: done is still false. The ring
// gives the slot up on the panic's way out, and the queue's waiters must
// hear of it as of an encoding error, not at their poll, 50 ms later
// (TestCodecPanicWakesTheQueuesWaiters). (A Get defers its released,
// which it runs however the ring call ends.)
func wakeIfPanicked(done *bool, wake func()) {
	if !*done {
		wake()
	}
}

// gaveUp wakes the waiters that a slot given up (its encoding failed
// after the claim) concerns: Gets, for the messages put after it, which
// waited behind it, and for the count a shut-down queue's Get waits on;
// Joins, for the task it no longer is. The ring wakes its own waiters,
// not the queue's, which slept on until their poll, 50 ms
// (TestGiveUpWakesConsumersAndJoin).
func (q *Queue[T]) gaveUp() {
	q.ctl.notEmpty.Notify()
	if q.joinable {
		q.ctl.join.Notify()
	}
}

func (q *Queue[T]) scratchBuf() *[]byte {
	if p, ok := q.scratch.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 256)
	return &b
}

// bytesBind returns a queue's MaxBytes if it can bind, else 0: with every
// message inline (no arena) in slots of maxMessage bytes, a queue of
// capacity messages holds at most capacity × maxMessage bytes, and a
// MaxBytes at least that never holds a Put back. Such a bound costs
// nothing: checked, it read the ring's positions (the consumers' line)
// on every Put and kept Put off its uncounted path, 6-7 M msgs/s for a
// stream of 64-byte messages against 23-25 M without it.
func bytesBind(ctl *control, arena bool, capacity int) int64 {
	mb := int64(ctl.maxBytes)
	if mb == 0 || !arena && int64(capacity)*int64(ctl.maxMessage) <= mb {
		return 0
	}
	return mb
}

// bytesFit reports whether n more bytes keep the queue within MaxBytes
// (placed: the n bytes are an arena block already counted). A
// message always fits an empty queue, or a big one could never be sent.
func (q *Queue[T]) bytesFit(n int, placed bool) bool {
	var own int64 // this Put's block, which the arena counts already
	if placed {
		own = (int64(n) + arena.PageSize - 1) / arena.PageSize * arena.PageSize
		n = 0
	}
	l := q.ring.Len()
	var large int64 // out-of-line bytes (whole pages, messages in flight included)
	if q.arena != nil {
		large = q.arena.Used()
	}
	// Empty but for this Put's own block: a message over MaxBytes, whose
	// block alone passes the bound, waited for ever on an empty queue
	// (TestMessageOverMaxBytesFitsEmptyQueue).
	if l == 0 && large <= own || int64(l)*int64(q.ctl.maxMessage)+large+int64(n) <= int64(q.ctl.maxBytes) {
		return true // fits even if every queued message filled its slot
	}
	return q.rx.Bytes()+large+int64(n) <= int64(q.ctl.maxBytes)
}

func (q *Queue[T]) tryGet(v *T) (bool, error) {
	if q.closed.Load() {
		return false, ErrClosed
	}
	ok, err := q.take(v)
	if ok || err != nil {
		return ok, err
	}
	if q.ctl.shutdown.Load() != 0 { // observes: Shutdown
		// A Put that passed its check before Shutdown may still land:
		// look once more.
		if ok, err := q.take(v); ok || err != nil {
			return ok, err
		}
		// A slot claimed and not published (a Put in flight, or a producer
		// killed mid-Put, whose slot the rescue gives up), or a message a
		// consumer died taking (adopted on the next take): either way
		// messages remain, keep waiting.
		retry, err := q.rx.RescueEmpty()
		if errors.Is(err, ringbuf.ErrCorrupt) {
			return false, fmt.Errorf("queue %q: %w", q.name, err)
		}
		if retry {
			return q.take(v)
		}
		if q.rx.Outstanding() > 0 {
			return false, nil
		}
		return false, ErrShutdown
	}
	return false, nil
}

// take gets and decodes the oldest message, if there is one.
func (q *Queue[T]) take(v *T) (bool, error) {
	var derr error
	stale := false
	// Also when nothing was got: the take may have handed slots back on
	// its way, those a producer gave up (the rescue of a producer killed
	// mid-Put gives its slot up), and the ring wakes its own waiters for
	// them, not the queue's. With nobody asleep that is one load. (A
	// producer asleep on the full queue past its first park slept on
	// until its poll, 50 ms: TestGetWakesProducersAfterSkippingGivenUpSlots.)
	// Deferred, it also runs when a codec panics: the ring gives the slot
	// back on the panic's way out (TestCodecPanicWakesTheQueuesWaiters).
	uncounted := 0
	defer q.releasedUncounted(&uncounted)
	ok, err := q.ring.TryGetFunc(func(rec []byte) {
		if q.joinable {
			uncounted++ // until gotTask counts it: a decoding error or a panic leaves it uncounted
		}
		if q.arena != nil && len(rec) == q.refLen {
			derr, stale = q.takeLarge(rec, func(msg []byte) error {
				w := *v // a codec may reuse it (codec.Bytes does): no 16 MiB allocation per Get
				err := q.codec.Decode(msg, &w)
				*v = w
				return err
			})
			if q.joinable && derr == nil && !stale {
				q.gotTask()
				uncounted--
			}
			return
		}
		if q.bin != nil {
			derr = q.bin.Decode(rec, v)
		} else {
			var w T // see tryPut: only copies reach the interface
			derr = q.codec.Decode(rec, &w)
			*v = w
		}
		if q.joinable && derr == nil {
			// Before the slot is given back: the task is counted in the
			// ring's Outstanding or in this record, never in neither.
			q.gotTask()
			uncounted--
		}
	})
	if err != nil {
		return false, fmt.Errorf("queue %q: %w", q.name, err)
	}
	if !ok {
		return false, nil
	}
	if stale {
		return q.take(v) // a message its dead consumer had finished with
	}
	if derr != nil {
		return true, fmt.Errorf("queue %q: %w", q.name, derr)
	}
	return true, nil
}

// Len returns the number of messages queued: a snapshot, stale as soon as
// it is taken when other processes are at work.
func (q *Queue[T]) Len() int {
	if !q.enter() {
		return 0
	}
	defer q.calls.leave()
	return q.ring.Len()
}

// Cap returns the message bound (MaxSize).
func (q *Queue[T]) Cap() int {
	if !q.enter() {
		return 0
	}
	defer q.calls.leave()
	return q.capacity()
}

func (q *Queue[T]) capacity() int {
	if q.ctl.maxSize != 0 {
		return int(q.ctl.maxSize)
	}
	return q.ring.Cap()
}

// MaxMessage returns the largest encoded message the queue takes.
func (q *Queue[T]) MaxMessage() int {
	if !q.enter() {
		return 0
	}
	defer q.calls.leave()
	if q.arena != nil {
		return int(q.ctl.maxLarge)
	}
	return int(q.ctl.maxMessage)
}

// Empty reports whether the queue holds no message (a snapshot).
func (q *Queue[T]) Empty() bool { return q.Len() == 0 }

// Full reports whether a Put would wait (a snapshot).
func (q *Queue[T]) Full() bool {
	if !q.enter() {
		return false
	}
	defer q.calls.leave()
	if q.maxBytes != 0 {
		used := q.rx.Bytes() + q.arenaUsed()
		if q.bin != nil { // every message this size: does the next one fit?
			if used > 0 && used+int64(q.bin.Size(nil)) > q.maxBytes {
				return true
			}
		} else if used >= q.maxBytes {
			return true
		}
	}
	return q.ring.Len() >= q.capacity()
}

// Shutdown ends the queue for every process, Python's Queue.shutdown:
// further Puts return ErrShutdown, Gets return what is left and then
// ErrShutdown (an All loop ends), and every waiter wakes. It is the poison
// pill made first-class: one Shutdown stops any number of consumers.
// Shutting down twice is harmless. A Put racing with Shutdown may either
// fail or be delivered. Shutdown does not close q: Close it too.
func (q *Queue[T]) Shutdown() error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.calls.leave()
	q.ctl.shutdown.Store(1) // publishes: no more Puts
	q.wakeAll()
	return nil
}

// released wakes the waiters that slots given back concern: Puts, for
// the room; and, once the queue is shut down, Gets that found nothing to
// take while messages were still outstanding (a claim of another
// consumer's among them) and wait on notEmpty for the count to drain or a
// message to come back: a claim ended lowers it. They slept on until
// their poll, 50 ms, before they returned ErrShutdown
// (TestShutdownGetWokenWhenTheLastClaimEnds). Before the shutdown that is
// one load more, of a line only Shutdown writes.
func (q *Queue[T]) released() {
	q.ctl.notFull.Notify()
	if q.ctl.shutdown.Load() != 0 { // observes: Shutdown
		q.ctl.notEmpty.Notify()
	}
}

// releasedUncounted is released for a Get that counts, in *uncounted,
// the messages of a joinable queue it consumed without counting them as
// tasks: one that did not decode, one whose codec or GetFunc callback
// panicked, a stale one a dead consumer had taken. Each left the ring's
// outstanding messages and entered no record, so the count Join waits on
// is lower, maybe zero: the Joins must hear of it. They slept on until
// their poll, 50 ms (TestUncountedGetWakesJoin). A task counted (gotTask)
// changes nothing Join reads, and wakes nobody.
func (q *Queue[T]) releasedUncounted(uncounted *int) {
	q.released()
	if *uncounted > 0 {
		q.ctl.join.Notify()
	}
}

// wakeAll wakes every waiter on the queue, in every process. A rescue on
// a waiter's poll calls it too when it changed what the others wait for:
// a dead producer's slots given up or skipped (the messages behind them
// reachable, their slots free, the count lower), an arena block
// reclaimed. The waiter that ran it rechecks (Recheck); the others sleep
// on the queue's events, and the ring wakes its own waiters, not the
// queue's: they slept on until their own poll, up to 50 ms later
// (TestRescueWakesTheOtherWaiters).
func (q *Queue[T]) wakeAll() {
	q.ctl.notEmpty.Notify()
	q.ctl.notFull.Notify()
	q.ctl.join.Notify()
}

// IsShutdown reports whether the queue has been shut down.
func (q *Queue[T]) IsShutdown() bool {
	if !q.enter() {
		return false
	}
	defer q.calls.leave()
	return q.ctl.shutdown.Load() != 0
}

// Name returns the queue's object name in its segment.
func (q *Queue[T]) Name() string { return q.name }

// Segment returns the segment the queue lives in.
func (q *Queue[T]) Segment() *shm.Segment { return q.seg }

// Close says this process is done with q, Python's Queue.close: the queue
// lives on for every other holder (Shutdown ends it for all). It frees
// q's slot in the queue's ring and unmaps what q alone uses: the anonymous
// segment of a queue made by New, the mapping a handle decoded in a
// worker attached. Calls on q in other goroutines wake and return
// ErrClosed, and Close waits for them; later calls return ErrClosed.
// Closing twice is harmless, so a worker's defer q.Close() is always
// right.
func (q *Queue[T]) Close() error {
	if q.ring == nil || !q.closed.CompareAndSwap(false, true) {
		return nil
	}
	q.wakeAll()  // this handle's waiters see closed; others re-check and sleep again
	q.endHolds() // a holder (bridge.Send) stops before the wait below can end
	q.calls.wait()
	err := q.ring.Close()
	if q.ownSeg {
		if serr := q.seg.Close(); err == nil {
			err = serr
		}
	}
	return err
}

// enter starts a call on q: it holds q's mapping until q.calls.leave. It
// reports false on a closed handle.
func (q *Queue[T]) enter() bool {
	return !q.closed.Load() && q.calls.enter()
}

// inFlight counts the calls in flight on a handle, so that Close can wait
// for them to leave the mapping: one atomic add on the way in and one on
// the way out, where a sync.RWMutex cost a call about 15 ns more. Close
// sets inClosing (later calls leave at once) and waits on done, which the
// last call to leave closes, marking inDone so that nobody closes it
// twice.
type inFlight struct {
	n    atomic.Int64  // calls in flight, plus inClosing once Close began, plus inDone once done is closed
	done chan struct{} // made by wait before it sets inClosing (published by that add)
}

const (
	inClosing = 1 << 40
	inDone    = 1 << 41
)

// enter counts a call in; it reports false once Close has begun.
func (f *inFlight) enter() bool {
	if f.n.Add(1)&inClosing != 0 {
		f.leave()
		return false
	}
	return true
}

// leave counts a call out; the last one out after Close began wakes it.
func (f *inFlight) leave() {
	if f.n.Add(-1) == inClosing {
		f.finish()
	}
}

// finish closes done once, whoever sees the count drop to nothing first.
func (f *inFlight) finish() {
	if f.n.CompareAndSwap(inClosing, inClosing|inDone) { // closing, none in flight -> done
		close(f.done)
	}
}

// wait bars new calls and waits for those in flight to leave. Call it once.
func (f *inFlight) wait() {
	f.done = make(chan struct{})
	if f.n.Add(inClosing) == inClosing { // publishes: done
		f.finish()
	}
	<-f.done
}

// All returns an iterator over the values got from q, Python's
// iter(q.get, sentinel) without the sentinel: each step is a Get. The
// loop ends when the queue is shut down and drained; any other error of
// Get (ctx done, ErrPeerDead, ErrClosed, a value that does not decode) is
// yielded once, with the zero T, and ends it. Breaking out of the loop
// early leaves the rest in the queue.
//
//	for v, err := range q.All(ctx) {
//		if err != nil { ... }
//		use(v)
//	}
func (q *Queue[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			var v T
			err := q.GetInto(ctx, &v)
			if errors.Is(err, ErrShutdown) {
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

// handle is what a Queue encodes to when it travels to another process.
type handle struct {
	Seg   shm.Handle
	Name  string
	Codec string
}

// GobEncode encodes a handle to the queue: its segment, its name and its
// codec's name. Encoded among the arguments of a process.Start, it also
// records the child as attached from the moment it starts, so that a
// waiter counts it as a possible producer and consumer before it has
// decoded anything.
func (q *Queue[T]) GobEncode() ([]byte, error) {
	if !q.enter() {
		return nil, ErrClosed
	}
	defer q.calls.leave()
	h, err := q.seg.Handle()
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", q.name, err)
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(handle{Seg: h, Name: q.name, Codec: codec.Name(q.codec)}); err != nil {
		return nil, err
	}
	if handoff.Active() {
		if slot, ok := q.ctl.attached.Reserve(); ok {
			handoff.Add(slot)
		} else {
			q.ctl.overflow.Store(1) // an untracked holder: never conclude the other side is gone
		}
	}
	return b.Bytes(), nil
}

// GobDecode attaches to the queue a handle names (shm.Attach, then Open).
// The codec is found by name among codec's shipped ones and those given to
// codec.Register. Close detaches the decoded queue and drops its
// attachment.
func (q *Queue[T]) GobDecode(b []byte) error {
	var h handle
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&h); err != nil {
		return err
	}
	c, err := codec.ByName[T](h.Codec)
	if err != nil {
		return fmt.Errorf("queue %q: %w", h.Name, err)
	}
	seg, err := shm.Attach(h.Seg)
	if err != nil {
		return fmt.Errorf("queue %q: %w", h.Name, err)
	}
	o, err := Open(seg, h.Name, Options[T]{Codec: c})
	if err != nil {
		seg.Close()
		return err
	}
	q.adopt(o)
	q.ownSeg = true // the attachment is q's: Close drops it
	return nil
}

// adopt moves o's fields into q (which gob made); o is not used after.
func (q *Queue[T]) adopt(o *Queue[T]) {
	q.seg, q.name, q.ctl, q.ring, q.rx, q.codec, q.bin = o.seg, o.name, o.ctl, o.ring, o.rx, o.codec, o.bin
	q.arena, q.refLen = o.arena, o.refLen
	if q.arena != nil {
		q.rx.OnGivenUp(q.discardGivenUp) // this handle's, not o's
	}
	q.joinable, q.fast, q.maxBytes = o.joinable, o.fast, o.maxBytes
	q.lostSeen.Store(o.lostSeen.Load())
	q.putWait = atomics.WaitOptions{Strategy: o.putWait.Strategy, Poll: pollPeers, Check: q.consumersDead}
	q.getWait = atomics.WaitOptions{Strategy: o.getWait.Strategy, Poll: pollPeers, Check: q.producersDead}
	q.bindWakes()
}

// noCopy makes go vet's copylocks check flag copies of a Queue.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
